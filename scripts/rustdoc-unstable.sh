#!/usr/bin/env bash
# rustdoc with its unstable options allowed: RUSTC_BOOTSTRAP is set for this rustdoc process
# alone (scripts/public-api.sh passes this file as RUSTDOC), so the build scripts and the
# dependencies cargo compiles never see it and keep their fingerprints.
RUSTC_BOOTSTRAP=1 exec rustdoc "$@"
