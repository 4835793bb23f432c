//! The `sluice` command line: thin front ends over the worker (`sluice_worker`): the embedded
//! demo and the offsets commands.
#![warn(missing_docs)]

pub mod demo;
pub mod offsets_cli;
