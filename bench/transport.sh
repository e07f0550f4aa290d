#!/usr/bin/env bash
# Transport benchmark: h2load with gRPC framing against `sluice serve --threads 1` (Health/Check) and, in the same
# sitting with the same flags, against nghttpd serving a same-size static body with a `grpc-status: 0` trailer.
# Server pinned to CPU 0, h2load to CPU 1 (taskset). Reports requests/s, server CPU µs per request
# (utime+stime from /proc/PID/stat over the run ÷ completed requests), p50/p99 latency (h2load --log-file),
# idle and peak RSS, for h2c and TLS; medians of RUNS runs. Loopback only.
#
#   bench/transport.sh                 # defaults: RUNS=3 REQUESTS=300000 CLIENTS=8 STREAMS=16
#   RUNS=1 REQUESTS=100000 bench/transport.sh
#
# Needs: h2load (nghttp2-client), nghttpd (nghttp2-server), taskset, a release build (.build/release/sluice),
# certs/dev (certs/generate). Results go to bench/results/ (git-ignored); the summary is printed as Markdown.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
RUNS=${RUNS:-3}
REQUESTS=${REQUESTS:-300000}
CLIENTS=${CLIENTS:-8}
STREAMS=${STREAMS:-16}
SLUICE=${SLUICE_BIN:-$root/.build/release/sluice}
PY=${PYTHON:-python3}
out="$root/bench/results/transport-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
for tool in h2load nghttpd taskset; do command -v $tool >/dev/null || { echo "missing $tool (scripts/setup)" >&2; exit 1; }; done
[ -x "$SLUICE" ] || { echo "build first: swift build -c release --product sluice" >&2; exit 1; }
certs/generate >/dev/null

# Request: HealthCheckRequest{} (empty) in one gRPC frame. Response body: HealthCheckResponse{SERVING}.
printf '\x00\x00\x00\x00\x00' > "$out/request.bin"
docroot="$out/docroot"; mkdir -p "$docroot/grpc.health.v1.Health"
printf '\x00\x00\x00\x00\x02\x08\x01' > "$docroot/grpc.health.v1.Health/Check"
path=/grpc.health.v1.Health/Check
port_sluice=50151
port_nghttpd=50152

server_pid=""
stop_server() { if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""; fi; }
trap stop_server EXIT

start_server() { # name mode
  local name=$1 mode=$2
  if [ "$name" = sluice ]; then
    local tls=(--plaintext)
    [ "$mode" = tls ] && tls=(--tls-cert certs/dev/server.pem --tls-key certs/dev/server-key.pem)
    taskset -c 0 "$SLUICE" serve --listen 127.0.0.1:$port_sluice --threads 1 "${tls[@]}" 2>"$out/sluice-$mode.log" &
    server_pid=$!; port=$port_sluice
  else
    local tls=(--no-tls)
    [ "$mode" = tls ] && tls=()
    local files=()
    [ "$mode" = tls ] && files=(certs/dev/server-key.pem certs/dev/server.pem)
    taskset -c 0 nghttpd "${tls[@]}" -d "$docroot" --trailer 'grpc-status: 0' $port_nghttpd "${files[@]}" \
      >"$out/nghttpd-$mode.log" 2>&1 &
    server_pid=$!; port=$port_nghttpd
  fi
  for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && return 0
    sleep 0.05
  done
  echo "server $name did not start" >&2; exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }

url() { local scheme=http; [ "$1" = tls ] && scheme=https; echo "$scheme://127.0.0.1:$port$path"; }

load() { # mode logfile extra-args...
  local mode=$1 log=$2; shift 2
  taskset -c 1 h2load -n "$REQUESTS" -c "$CLIENTS" -m "$STREAMS" -t 1 -d "$out/request.bin" \
    -H 'content-type: application/grpc' -H 'te: trailers' --log-file="$log" "$@" "$(url "$mode")" > "$log.out" 2>&1
}

measure() { # name mode run → appends a JSON line to results.jsonl
  local name=$1 mode=$2 run=$3
  start_server "$name" "$mode"
  sleep 0.5
  local idle; idle=$(rss_kb $server_pid VmRSS)
  load "$mode" "$out/warmup.log" -n 20000 >/dev/null
  local before; before=$(cpu_ticks $server_pid)
  load "$mode" "$out/$name-$mode-$run.log"
  local after; after=$(cpu_ticks $server_pid)
  local peak; peak=$(rss_kb $server_pid VmHWM)
  stop_server
  $PY bench/transport_stats.py record --name "$name" --mode "$mode" --run "$run" --ticks $((after - before)) \
    --idle-rss-kb "$idle" --peak-rss-kb "$peak" --h2load-out "$out/$name-$mode-$run.log.out" \
    --log "$out/$name-$mode-$run.log" >> "$out/results.jsonl"
}

paced() { # name mode rps → p50/p99 at a fixed total rate
  local name=$1 mode=$2 rate=$3
  start_server "$name" "$mode"
  sleep 0.3
  local per_client=$(( rate / CLIENTS ))
  local n=$(( rate * 3 ))
  REQUESTS=$n load "$mode" "$out/$name-$mode-paced.log" --rps "$per_client"
  stop_server
  $PY bench/transport_stats.py record --name "$name" --mode "$mode" --run paced --ticks 0 --idle-rss-kb 0 \
    --peak-rss-kb 0 --h2load-out "$out/$name-$mode-paced.log.out" --log "$out/$name-$mode-paced.log" \
    --rate "$rate" >> "$out/results.jsonl"
}

for mode in h2c tls; do
  for run in $(seq "$RUNS"); do
    measure sluice "$mode" "$run"
    measure nghttpd "$mode" "$run"
  done
  peak=$($PY bench/transport_stats.py peak --results "$out/results.jsonl" --name sluice --mode "$mode")
  half=$(( peak / 2 ))
  paced sluice "$mode" "$half"
  paced nghttpd "$mode" "$half"
done
$PY bench/transport_stats.py summary --results "$out/results.jsonl" | tee "$out/summary.md"
echo "raw results: $out"
