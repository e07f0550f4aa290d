#!/usr/bin/env bash
# Engine benchmark of issue 14: Sluice vs onnxruntime vs lleaves (LightGBM) vs treelite + tl2cgen (gcc) on the
# benchmark model set (bench/models, built by bench/make_engine_models.py) and the Spark RF fixture, one thread,
# every engine pinned to the same CPU, same sitting, engines interleaved per round.
# CPU µs per row at batch 1, 64, 1,024 and 65,536; load ms; MB per loaded model. Medians over ROUNDS rounds.
# Writes bench/results/engine-compare-<time>.jsonl and prints the Markdown table (bench/engine_compare_summary.py).
#
# Usage: bench/engine-compare.sh [MODEL_DIR...]
# Env: ROUNDS (3), SECONDS_PER_BATCH (0.6), CPU (1), VENV (bench/.venv-engine; created on first use from
#      bench/requirements-engine.txt: onnxruntime, lleaves, treelite, tl2cgen; gcc must be installed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_BATCH:-0.6}
cpu=${CPU:-1}
venv=${VENV:-bench/.venv-engine}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r bench/requirements-engine.txt
fi
py=$venv/bin/python
models=("$@")
if [ ${#models[@]} -eq 0 ]; then
  [ -f bench/models/lgbm_500x63_3class/model.onnx ] || "$py" bench/make_engine_models.py
  for m in lgbm_200x31_binary lgbm_200x31_3class lgbm_500x63_binary lgbm_500x63_3class xgb_300xd6_nan \
    skl_rf_100xd10 skl_gbt_200xd3; do
    models+=("bench/models/$m")
  done
  models+=("Tests/fixtures/models/spark_churn_rf")
fi
nice swift build -c release --product sluice-bench-engine -j 2 >/dev/null
mkdir -p bench/results bench/.cache
out=bench/results/engine-compare-$(date -u +%Y%m%dT%H%M%SZ).jsonl
batches=1,64,1024,65536
# Compile lleaves and tl2cgen libraries once, outside the timed rounds (their compile time is recorded).
taskset -c "$cpu" "$py" bench/engine_compare.py lleaves --seconds 0.01 --reps 1 --batches 1 "${models[@]}" \
  | sed 's/^{/{"warmup":1,/' >>"$out"
taskset -c "$cpu" "$py" bench/engine_compare.py treelite --seconds 0.01 --reps 1 --batches 1 "${models[@]}" \
  | sed 's/^{/{"warmup":1,/' >>"$out"
for ((i = 0; i < rounds; i++)); do
  for m in "${models[@]}"; do
    taskset -c "$cpu" .build/release/sluice-bench-engine --seconds "$secs" --reps 5 --batches 64,65536 "$m" >>"$out"
    for e in ort lleaves treelite; do
      taskset -c "$cpu" "$py" bench/engine_compare.py "$e" --seconds "$secs" --reps 5 --batches "$batches" "$m" >>"$out"
    done
  done
done
echo "raw: $out" >&2
"$py" bench/engine_compare_summary.py "$out"
