//! `sluice`: stream objects from object stores into Kafka, the Kafka Connect way.

// The records' many small allocations spent a third of the CPU in glibc malloc
// (docs/BENCHMARKS.md).
// (Not with the `system-allocator` feature, for heap profilers.)
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sluice::cli::main()
}
