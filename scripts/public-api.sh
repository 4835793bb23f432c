#!/usr/bin/env bash
# The API stability check: sluice-api's public items with their members (scripts/public_api.py,
# from rustdoc's JSON output of sluice-api and of the workspace crates it re-exports from) must
# equal the committed listing api/public-api.txt, so a change to the surface extension authors
# build on (a method, a field, a variant, a derive, `#[non_exhaustive]`) is always deliberate.
# After an intended change:
#   SLUICE_UPDATE_DOCS=1 scripts/public-api.sh      # rewrites api/public-api.txt; commit it
# rustdoc's JSON output is unstable: scripts/rustdoc-unstable.sh runs rustdoc with
# RUSTC_BOOTSTRAP=1 on the stable toolchain, for rustdoc alone (set for cargo, it would reach the
# build scripts and make cargo rebuild the dependencies after every stable build), and
# scripts/public_api.py names the JSON format versions it reads (57: rustc 1.95).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
# sluice-api and every workspace crate it re-exports items from (public_api.py names a missing one).
for package in sluice-api sluice-core sluice-worker sluice-sources sluice; do
    RUSTDOC="$PWD/scripts/rustdoc-unstable.sh" cargo rustdoc -q -p "$package" --lib -- -Z unstable-options --output-format json
done
python3 scripts/public_api.py "$target/doc" sluice_api > "$target/public-api.txt"
if [[ -n "${SLUICE_UPDATE_DOCS:-}" ]]; then
    cp "$target/public-api.txt" api/public-api.txt
    echo "api/public-api.txt updated"
elif ! diff -u api/public-api.txt "$target/public-api.txt"; then
    echo "sluice-api's public API changed (diff above: - committed, + now). If intended, run SLUICE_UPDATE_DOCS=1 scripts/public-api.sh and commit api/public-api.txt." >&2
    exit 1
fi
