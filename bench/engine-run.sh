#!/usr/bin/env bash
# Engine-alone benchmark against onnxruntime, single thread, same models and rows, same sitting.
# Runs sluice-bench-engine and bench/engine_ort.py alternately per model (ROUNDS times, both pinned to one CPU),
# writes every measurement to bench/results/engine-<time>.jsonl and prints a Markdown summary (medians, ratios).
# Usage: bench/engine-run.sh [MODEL_DIR...]   (default: every Tests/fixtures/models fixture)
# Env: ROUNDS (3), SECONDS_PER_MODEL (1), CPU (1), PYTHON (.venv/bin/python or /tmp/venvprobe/bin/python),
#      BASELINE (optional: a sluice-bench-engine binary built from another commit, copied out of .build; it is run
#      right before this tree's binary for every model and reported as "before" columns, same sitting)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_MODEL:-1}
cpu=${CPU:-1}
python=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo /tmp/venvprobe/bin/python )}
models=("$@")
if [ ${#models[@]} -eq 0 ]; then
  models=()
  for m in spark_churn_rf skl_rf_churn skl_logreg_churn skl_ct_pipeline_churn skl_mlp_churn skl_logreg3_zipmap; do
    models+=("$root/Tests/fixtures/models/$m")
  done
fi
swift build -c release --product sluice-bench-engine >/dev/null
mkdir -p bench/results
out=bench/results/engine-$(date -u +%Y%m%dT%H%M%SZ).jsonl
for ((i = 0; i < rounds; i++)); do
  for m in "${models[@]}"; do  # interleaved per model so both engines see the same machine load
    if [ -n "${BASELINE:-}" ]; then
      taskset -c "$cpu" "$BASELINE" --seconds "$secs" --reps 5 "$m" | sed 's/"engine":"sluice"/"engine":"sluice-baseline"/' >>"$out"
    fi
    taskset -c "$cpu" .build/release/sluice-bench-engine --seconds "$secs" --reps 5 "$m" >>"$out"
    taskset -c "$cpu" "$python" bench/engine_ort.py --seconds "$secs" --reps 5 "$m" >>"$out"
  done
done
echo "raw: $out" >&2
"$python" bench/engine_summarize.py "$out"
