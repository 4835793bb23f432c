//! `vendor-log-sluice`: the `sluice` command line plus the `vendorlog` format.

fn main() -> std::process::ExitCode {
    let registry = sluice_api::builtin()
        .with_format(
            sluice_example_vendor_log::KEYS,
            sluice_example_vendor_log::build,
        )
        .expect("the vendorlog format's name and keys are its own");
    sluice_api::cli::main_with(registry)
}
