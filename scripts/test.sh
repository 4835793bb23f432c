#!/usr/bin/env bash
# The whole test suite: installs the test servers it needs, then runs every test of the workspace
# (unit, property and end-to-end against real brokers). Heavy variants stay behind SLUICE_HEAVY=1.
set -euo pipefail
cd "$(dirname "$0")/.."
SLUICE_TANSU_BIN=$(scripts/install-test-servers.sh)
export SLUICE_TANSU_BIN
# Two cores: keep the end-to-end tests (each starts brokers and sluice processes) from
# oversubscribing the machine.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-2}
cargo test --workspace --all-targets "$@"
# Doc examples.
cargo test --workspace --doc
