//! The `sluice` command line: thin front ends over the worker (`sluice_worker`): the embedded
//! demo, the offsets commands and the backfill's progress display.
// The command line: printing is what it is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#![warn(missing_docs)]

pub mod demo;
pub mod offsets_cli;
pub mod offsets_import;
pub mod preview;
pub mod progress;
