#!/bin/bash
# S2 at 150 communes on diemcau with one busy loop taking a core, so the
# room's worker is starved (BENCHMARKS §10). Usage: s2-starved.sh <server binary>
set -u
python3 -c 'while True: pass' &
hog=$!
trap 'kill $hog' EXIT
./target/release/diemcau-load s2 --server-bin "${1:-./target/release/diemcau}" --s2-no-janus --s2-wait-quiet-secs 0
