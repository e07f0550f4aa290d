#!/usr/bin/env bash
# Counts malloc calls of the engine's serving path (needs root for a perf uprobe on libc's malloc).
# For each model the benchmark runs twice, 0.2 s and 1.2 s of predict calls (single rows, then batches of 1,024);
# equal counts mean the steady state allocates nothing per call (the remaining mallocs are load and warm-up).
# Usage: bench/engine-allocs.sh [MODEL_DIR...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
swift build -c release --product sluice-bench-engine >/dev/null
libc=$(ldconfig -p | awk '/libc.so.6 .*x86-64/ {print $NF; exit}')
perf probe -q -x "$libc" malloc 2>/dev/null || true
models=("$@")
[ ${#models[@]} -eq 0 ] && models=("$root"/Tests/fixtures/models/*/)
for m in "${models[@]}"; do
  for mode in --single-only --batch-only; do
    counts=()
    for s in 0.2 1.2; do
      counts+=("$(perf stat -e probe_libc:malloc -x, .build/release/sluice-bench-engine --seconds $s --reps 1 $mode "$m" 2>&1 >/dev/null | cut -d, -f1)")
    done
    echo "$(basename "$m") $mode: mallocs after 0.2 s ${counts[0]}, after 1.2 s ${counts[1]}, per extra second $((counts[1] - counts[0]))"
  done
done
