#!/usr/bin/env bash
# The API stability check: sluice-api's public items (scripts/public_api.py, from rustdoc's JSON
# output) must equal the committed listing api/public-api.txt, so a change to the surface
# extension authors build on is always deliberate. After an intended change:
#   SLUICE_UPDATE_DOCS=1 scripts/public-api.sh      # rewrites api/public-api.txt; commit it
# rustdoc's JSON output is unstable: RUSTC_BOOTSTRAP=1 enables it on the stable toolchain, and
# scripts/public_api.py names the JSON format versions it reads (57: rustc 1.95). Cost: cargo
# keeps RUSTC_BOOTSTRAP in its fingerprints, so after a stable build the dependencies are
# checked again for this run (~2 min of CPU); run twice in a row it takes ~10 s. (A target
# directory of its own would avoid that but builds the C libraries of the -sys crates again.)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
RUSTC_BOOTSTRAP=1 cargo rustdoc -q -p sluice-api --lib -- -Z unstable-options --output-format json
python3 scripts/public_api.py "$target/doc/sluice_api.json" > "$target/public-api.txt"
if [[ -n "${SLUICE_UPDATE_DOCS:-}" ]]; then
    cp "$target/public-api.txt" api/public-api.txt
    echo "api/public-api.txt updated"
elif ! diff -u api/public-api.txt "$target/public-api.txt"; then
    echo "sluice-api's public API changed (diff above: - committed, + now). If intended, run SLUICE_UPDATE_DOCS=1 scripts/public-api.sh and commit api/public-api.txt." >&2
    exit 1
fi
