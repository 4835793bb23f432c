//! The `sluice` command line: thin front ends over the worker (`sluice_worker`): the commands
//! ([`cli`], reusable by a program that registers its own components), the embedded demo, the
//! offsets commands and the backfill's progress display.
//!
//! This is an implementation crate with no stability promise: programs built on Sluice use
//! `sluice-api`, which re-exports the entry point as `sluice_api::cli`.
// The command line: printing is what it is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]
#![warn(missing_docs)]

pub mod cli;
pub mod demo;
mod native_memory;
pub mod offsets_cli;
pub mod offsets_import;
pub mod preview;
pub mod progress;
