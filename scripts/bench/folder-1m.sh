#!/usr/bin/env bash
# `sluice run` over the benchmark's folder of 1M files, every one finished (run
# `scripts/bench.sh --only 'restart, 1M finished'` once first: it makes the folder and its
# offsets). Two measurements (docs/benchmarks/2026-12-04-listing-1m.md):
#   passes: the full listing passes, timed from the log, then three bare `find` walks of the
#           folder with each file's size and mtime;
#   idle:   the process's CPU over 60 s of idling, then how soon a new file (after the greatest
#           key) and a late one (before it) are read.
# Usage: scripts/bench/folder-1m.sh passes|idle [SLUICE_BINARY]; needs SLUICE_TANSU_BIN.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=$1
bin=${2:-target/profiling/sluice}
out=target/listing-1m/$mode-$(basename "$bin")
rm -rf "$out"
mkdir -p "$out"
objects=target/bench-data/full/jsonl-1m/objects
cp target/bench-data/full/runs/restart-prep-1m/offsets.jsonl "$out/offsets.jsonl"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$SLUICE_TANSU_BIN" broker --listener-url "tcp://127.0.0.1:$port" \
  --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ >/dev/null 2>&1 &
tansu=$!
trap 'kill $tansu 2>/dev/null || true; rm -f $objects/d000/aaa-late.jsonl $objects/d999/zzz-new.jsonl' EXIT
sleep 2
printf 'bootstrap.servers=127.0.0.1:%s\noffset.storage.file.filename=%s/offsets.jsonl\nvalue.converter.schemas.enable=false\n' \
  "$port" "$out" > "$out/worker.properties"
printf 'name=bench\ntopic=bench\ntasks.max=1\ninput.format=jsonl\nconnector.class=local\nlocal.path=%s\nlocal.file.min.age.ms=0\nobject.partial.line.wait.ms=0\n' \
  "$objects" > "$out/connector.properties"
walk() { find "$objects" -type f -printf '%s %T@ %P\n'; }
walk > /dev/null # the page cache warm, for Sluice as for the walks
RUST_LOG=info,sluice_core::source=debug "$bin" run "$out/worker.properties" "$out/connector.properties" > "$out/log" 2>&1 &
pid=$!

case $mode in
passes)
  for _ in $(seq 1 600); do
    [ "$(grep -c 'listing pass ended.*listed=1000000' "$out/log" || true)" -ge "${PASSES:-3}" ] && break
    sleep 1
  done
  grep -o 'VmHWM:.*' "/proc/$pid/status" || true
  kill -TERM $pid
  wait $pid || true
  echo "sluice: $(grep 'listing pass ended' "$out/log" | sed 's/.*took=\([^ ]*\) listed=\([0-9]*\).*/took=\1 listed=\2/' | tr '\n' ' ')"
  for _ in 1 2 3; do
    /usr/bin/time -f "find, size and mtime of every file: %e s wall, %U s user, %S s sys" \
      find "$objects" -type f -printf '%s %T@ %P\n' > "$out/find.txt"
  done
  echo "files walked: $(wc -l < "$out/find.txt")"
  ;;
idle)
  sleep 20
  cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
  a=$(cpu)
  sleep 60
  b=$(cpu)
  echo "$(basename "$bin"): CPU over 60 s idle: $(echo "($b - $a) / 100" | bc -l | cut -c1-5) s; passes in the log: $(grep -c 'listing pass ended' "$out/log"), full ones: $(grep -c 'listed=1000000' "$out/log")"
  echo '{"late":1}' > "$objects/d000/aaa-late.jsonl"
  echo '{"new":1}' > "$objects/d999/zzz-new.jsonl"
  start=$(date +%s.%N)
  new='' late=''
  for _ in $(seq 1 1200); do
    [ -z "$new" ] && grep -q 'reading object.*zzz-new' "$out/log" && new=$(echo "$(date +%s.%N) - $start" | bc)
    [ -z "$late" ] && grep -q 'reading object.*aaa-late' "$out/log" && late=$(echo "$(date +%s.%N) - $start" | bc)
    [ -n "$new" ] && [ -n "$late" ] && break
    sleep 0.1
  done
  echo "new file read after ${new:-never} s, late file after ${late:-never} s"
  kill -TERM $pid
  wait $pid || true
  ;;
*)
  echo "usage: $0 passes|idle [SLUICE_BINARY]" >&2
  exit 2
  ;;
esac
