//! `http-listing-sluice`: the `sluice` command line plus the `http-listing` backend.

fn main() -> std::process::ExitCode {
    let registry = sluice_api::builtin()
        .with_backend(
            sluice_example_http_listing::KEYS,
            sluice_example_http_listing::build,
        )
        .expect("the http-listing backend's name and keys are its own");
    sluice_api::cli::main_with(registry)
}
