#!/usr/bin/env bash
# The benchmarks, in one command: builds the `profiling` profile (release code with line tables,
# as profilers want it; the shipped release binary is stripped), installs what they need (the tansu broker and
# moto via scripts/install-test-servers.sh; the Python baseline's confluent-kafka and boto3 into
# .test-servers/bench-venv), generates the data once under target/bench-data/, runs every case
# several times and rewrites docs/BENCHMARKS.md.
#
#   scripts/bench.sh                  # the full run: about 2 h on 2 cores; ~7 GB under target/bench-data
#                                     # (plus ~3 GB of moto's temporary files); run it on a quiet machine
#   scripts/bench.sh --quick          # small data, one run each: checks the harness (~5 min)
#   scripts/bench.sh --only jsonl     # the cases whose name contains "jsonl"
#   scripts/bench.sh --list           # the case list
#
# Any other argument goes to `sluice-bench run` (see `target/profiling/sluice-bench run --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --profile profiling -p sluice -p sluice-bench >&2

SLUICE_TANSU_BIN=$(scripts/install-test-servers.sh)
export SLUICE_TANSU_BIN
export SLUICE_MOTO_BIN=${SLUICE_MOTO_BIN:-.test-servers/moto-venv/bin/moto_server}

venv=.test-servers/bench-venv
if ! "$venv/bin/python" -c 'import confluent_kafka, boto3' 2>/dev/null; then
  echo "installing the Python baseline's packages (pip: confluent-kafka, boto3) into $venv..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'confluent-kafka==2.16.1' 'boto3==1.44.5'
fi

exec target/profiling/sluice-bench run --python "$venv/bin/python" \
  --command-line "scripts/bench.sh" "$@"
