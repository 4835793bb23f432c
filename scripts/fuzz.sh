#!/usr/bin/env bash
# Fuzzes every reader and parser that takes untrusted bytes (fuzz/fuzz_targets/), each target for
# SECONDS (default 300), and writes a report of executions, CPU time and findings to
# target/fuzz-report.md (or $FUZZ_REPORT, so that two runs side by side keep their own reports).
# Heavy: not part of scripts/test.sh. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# FUZZ_TIMEOUT (default 10) is libFuzzer's -timeout in seconds per input.
# FUZZ_BACKGROUND=1 gives the run only the CPU that other work leaves (see below): for a run beside
# builds and benchmarks.
#
# Stable Rust only (no nightly here): `--sanitizer none`, so libFuzzer finds panics, hangs
# (-timeout) and runaway allocations (-malloc_limit_mb / -rss_limit_mb), not the memory errors
# AddressSanitizer would (the crates fuzzed here have no unsafe code). Crashes land in
# fuzz/artifacts/TARGET/; reproduce one with `cargo fuzz run --sanitizer none TARGET FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
# With the kernel's autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled), `nice` orders
# processes only within their session: a fuzzer started with `setsid nice -n 19` still takes an
# equal share of the cores from the builds and benchmarks of other sessions. The session's own
# group nice value is what counts there; even at 19 a fuzzer kept the workload's threads waiting
# for a core when they woke (a jsonl benchmark 8.8-9.3 s beside it, docs/fuzzing.md). A cpu
# cgroup marked idle (cpu.idle=1) is what the kernel preempts at once for any other work: the
# script moves itself there when it may (root, cgroup v1 or v2 with the cpu controller), and
# lowers its autogroup otherwise. The price: while other work keeps every core busy the fuzzer
# gets no CPU, and an input can outlast libFuzzer's wall-clock -timeout (a false timeout). So a
# timeout is replayed alone under a CPU-time limit (below): an input that needs less CPU than
# the timeout is renamed false-timeout-* (kept, not counted) and fuzzing goes on for the time
# left; one that needs more is a finding and ends the target's run.
background() {
  local cg
  for cg in /sys/fs/cgroup/cpu/sluice-fuzz /sys/fs/cgroup/sluice-fuzz; do
    if mkdir -p "$cg" 2>/dev/null && [ -w "$cg/cpu.idle" ] && echo 1 > "$cg/cpu.idle" 2>/dev/null &&
      echo $$ > "$cg/cgroup.procs" 2>/dev/null; then
      echo "fuzzing in the idle cpu cgroup $cg" >&2
      return
    fi
    rmdir "$cg" 2>/dev/null || true
  done
  if [ -w /proc/self/autogroup ]; then
    echo 19 > /proc/self/autogroup
    echo "fuzzing at autogroup nice 19 (no idle cpu cgroup here)" >&2
  fi
}
if [ -n "${FUZZ_BACKGROUND:-}" ]; then
  background
fi
seconds=${1:-300}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
scripts/fixtures/generate.sh >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && cargo fuzz list)
fi

# Seed corpora: the conformance fixtures (one leading mode byte, as each target reads it) and the
# hand-written seeds of fuzz/seeds/.
seed() { # seed TARGET MODE_BYTE FILE...
  local dir=fuzz/corpus/$1 mode=$2
  shift 2
  mkdir -p "$dir"
  for f in "$@"; do
    [ -f "$f" ] || continue
    { printf "\\x$mode"; cat "$f"; } > "$dir/seed-$(basename "$f")"
  done
}
fx=target/fixtures
seed format_jsonl 00 "$fx"/jsonl/*.jsonl
seed format_jsonl 01 "$fx"/jsonl/records.jsonl
mkdir -p fuzz/corpus/format_jsonl_plain # no mode byte: the object as it is
for f in "$fx"/jsonl/*.jsonl; do [ -f "$f" ] && cp "$f" fuzz/corpus/format_jsonl_plain/seed-"$(basename "$f")"; done
seed format_json 02 "$fx"/json/*.json
seed format_json 03 "$fx"/json/array.json
seed format_csv 00 "$fx"/csv/*.csv
seed format_csv 04 "$fx"/csv/table.csv
seed format_text 00 "$fx"/text/*.txt
seed format_text 02 "$fx"/text/blocks.txt
seed format_avro 00 "$fx"/avro/*.avro
seed format_parquet 00 "$fx"/parquet/*.parquet
for ext in gz:00 zst:01 sz:02 bz2:03 lz4:04 zz:05 deflate:05; do
  seed decompress "${ext#*:}" "$fx"/*/*."${ext%%:*}"
done
for t in file_name_template config_loader offsets_file connect_offsets; do
  mkdir -p "fuzz/corpus/$t"
  cp fuzz/seeds/$t/* "fuzz/corpus/$t/"
done

report=${FUZZ_REPORT:-target/fuzz-report.md}
{
  echo "# Fuzzing run $(date -u +%Y-%m-%dT%H:%MZ), ${seconds} s per target, sanitizer none"
  echo
  echo "| target | wall s | CPU s | executions | exec/s | corpus | coverage (edges) | crashes |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$report"
timer=()
[ -x /usr/bin/time ] && timer=(/usr/bin/time -f '%e %U %S' -o)
timeout=${FUZZ_TIMEOUT:-10}
bin=fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release
status=0

# replay TARGET INPUT: prints the CPU seconds INPUT takes run once by itself, under a CPU-time
# limit of twice the timeout (so that starvation cannot make it look slow); fails when it
# crashes or passes the limit.
replay() {
  local out=target/fuzz-$1.replay
  rm -f "$out"
  (ulimit -t $((2 * timeout)); /usr/bin/time -f '%U %S' -o "$out" \
    "$bin/$1" -timeout=1000000 "$2" >>"target/fuzz-$1.log" 2>&1) || return 1
  tail -n 1 "$out" | awk '{ printf "%.2f\n", $1 + $2 }'
}

for t in "${targets[@]}"; do
  log=target/fuzz-$t.log
  times=target/fuzz-$t.time
  # Artifacts of this run only: the folder keeps those of earlier runs.
  since=target/fuzz-$t.start
  touch "$since"
  # Built first, so that the times below are the fuzzing's alone.
  (cd fuzz && cargo fuzz build --sanitizer none "$t") >"$log" 2>&1 || true
  wall=0 cpu=0 runs=0 false_timeouts=0 left=$seconds
  while :; do
    rc=0
    rm -f "$times"
    first=$(($(wc -l < "$log") + 1))
    # CPU time (user + system, the fuzzer included) beside wall time: on a shared machine the
    # wall time says little about how long a target really ran.
    (cd fuzz && ${timer[@]:+"${timer[@]}" "../$times"} cargo fuzz run --sanitizer none "$t" -- \
      -max_total_time="$left" -timeout="$timeout" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
      -print_final_stats=1) >>"$log" 2>&1 || rc=$?
    # The last line: /usr/bin/time writes "Command exited with non-zero status N" first when it did.
    read -r w c < <(tail -n 1 "$times" 2>/dev/null | awk '{ printf "%.0f %.0f\n", $1, $2 + $3 }' || true)
    wall=$((wall + ${w:-0})) cpu=$((cpu + ${c:-0}))
    # This attempt's executions: its final stats, or its last status line (#N) when it died.
    n=$(tail -n "+$first" "$log" | grep -o 'stat::number_of_executed_units: *[0-9]*' | grep -o '[0-9]*$' | tail -1)
    [ -n "$n" ] || n=$(tail -n "+$first" "$log" | grep -oE '^#[0-9]+' | tail -1 | tr -d '#')
    runs=$((runs + ${n:-0}))
    [ "$rc" -eq 0 ] && break
    # A timeout: replayed alone; one that needs less CPU than the timeout was the machine's.
    unit=$(find "fuzz/artifacts/$t" -type f -name 'timeout-*' -newer "$since" -printf '%T@ %p\n' |
      sort -n | tail -n 1 | cut -d' ' -f2-)
    [ -n "$unit" ] || break
    alone=$(replay "$t" "$unit") || break
    awk -v a="$alone" -v t="$timeout" 'BEGIN { exit !(a < t) }' || break
    name=$(basename "$unit")
    mv "$unit" "fuzz/artifacts/$t/false-${name}"
    false_timeouts=$((false_timeouts + 1))
    echo "$t: a timeout after ${w:-?} s of wall time takes ${alone} s of CPU alone: false-${name}; fuzzing goes on" >&2
    left=$((seconds - wall))
    [ "$left" -ge 10 ] || { rc=0; break; }
  done
  rate=$(( wall > 0 ? runs / wall : 0 ))
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  # Slow units are inputs libFuzzer found slow but under the timeout, and false timeouts took
  # less CPU than it alone: kept, not counted as crashes.
  crashes=$(find "fuzz/artifacts/$t" -type f ! -name 'slow-unit-*' ! -name 'false-timeout-*' -newer "$since" 2>/dev/null | wc -l)
  [ "$false_timeouts" -gt 0 ] && crashes="$crashes ($false_timeouts false timeouts, replayed alone)"
  echo "| $t | $wall | $cpu | $runs | $rate | $corpus | ${cov:-?} | $crashes |" >> "$report"
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "$t: libFuzzer exited $rc; see $log and fuzz/artifacts/$t/" >&2
  fi
done
cat "$report"
exit "$status"
