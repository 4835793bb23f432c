#!/usr/bin/env bash
# The whole test suite: checks formatting, lints (clippy, -D warnings, with the workspace lints of
# Cargo.toml) and the docs, installs the test servers it needs, then runs every test of the
# workspace (unit, property, doc and end-to-end tests against real brokers, the out-of-tree
# examples in examples/ included), and checks that sluice-api's public API is the committed one. Heavy variants stay
# behind SLUICE_HEAVY=1. Ends with one line totalling every test binary's results.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "checking: cargo fmt, clippy, doc" >&2
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
# sluice-api's public items against the committed listing api/public-api.txt (docs/extending.md).
scripts/public-api.sh
SLUICE_TANSU_BIN=$(scripts/install-test-servers.sh)
export SLUICE_TANSU_BIN
# Transformer conformance fixtures (target/fixtures/), written by pyarrow, fastavro and Python's
# codecs from a pinned venv; a no-op when they are current.
scripts/fixtures/generate.sh
# Two cores: keep the end-to-end tests (each starts brokers and sluice processes) from
# oversubscribing the machine.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-2}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
