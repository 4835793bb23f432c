//! `vendor-log-sluice`: the `sluice` command line plus the `vendorlog` format and the
//! `LevelRouter` transform.

use sluice_example_vendor_log::{build, route, KEYS};

fn main() -> std::process::ExitCode {
    let registry = sluice_api::builtin()
        .with_format(KEYS, build)
        .and_then(|r| r.with_transform(route::KEYS, route::build))
        .expect("the vendorlog format's and LevelRouter's names and keys are their own");
    sluice_api::cli::main_with(registry)
}
