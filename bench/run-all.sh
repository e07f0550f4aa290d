#!/usr/bin/env bash
# Runs every benchmark in one sitting and writes the combined Markdown to bench/results/sitting-<time>.md:
# transport (issue 2), engine vs onnxruntime (3), Predict end to end (4), rollouts (5), auth (6).
# Loopback only; each benchmark bounds its own request counts. Takes about 10 minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-.venv/bin/python}
swift build -c release --product sluice --static-swift-stdlib > /dev/null
swift build -c release --product sluice-bench-engine > /dev/null
certs/generate > /dev/null
mkdir -p bench/results
out="bench/results/sitting-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "# Sitting of $(date -u '+%Y-%m-%d %H:%M UTC'), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo; echo "## Transport (issue 2)"; bench/transport.sh
  echo; echo "## Engine vs onnxruntime (issue 3)"; PYTHON=$python bench/engine-run.sh
  echo; echo "## Predict end to end (issue 4)"; SLUICE_BIN=.build/release/sluice "$python" bench/predict.py
  echo; echo "## Predict with a rollout (issue 5)"; "$python" bench/routing_predict.py
  echo; echo "## Predict with authentication (issue 6)"; "$python" bench/auth_server_bench.py --rounds 5
  echo; echo "## Fleet rollouts (issue 12)"; SLUICE_BIN=.build/release/sluice "$python" bench/fleet_bench.py --requests 100000 --rounds 5 --starts 10
} 2>&1 | tee "$out"
echo "written: $out"
