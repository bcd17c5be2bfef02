#!/bin/bash
# Profile the server during S1 at N=150 (BENCHMARKS §7, fourth run).
# Run as root from the repository root after
# `cargo build --release -p diemcau -p diemcau-load`.
set -u
out=${OUT:-/tmp/diemcau-profile}
mkdir -p "$out"
./target/release/diemcau-load s1 --steps 150 --window-secs 20 > "$out/s1.out" 2>&1 &
load=$!
for _ in $(seq 1 120); do
  grep -q "150 subscribers receiving" "$out/s1.out" && break
  sleep 1
done
pid=$(grep -o "diemcau pid [0-9]*" "$out/s1.out" | awk '{print $3}')
sleep 6
perf record -F 499 -g -p "$pid" -o "$out/perf.data" -- sleep 10 > "$out/perf-record.out" 2>&1
wait $load
perf report -i "$out/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep "%" > "$out/by-symbol.txt"
head -40 "$out/by-symbol.txt"
