#!/bin/sh
# Hot-path cost of the Auth module: authorize with a cached JWT / an API key / insecure mode, audit enqueue,
# and uncached signature verification per algorithm. Release build; prints ns per call (wall and CPU).
# Usage: bench/auth_hotpath.sh            (from the repository root)
set -eu
cd "$(dirname "$0")/.."
# The skeleton's SluiceProto imports GRPCCore without declaring it; build GRPCCore first.
swift build -c release --target GRPCCore >/dev/null
SLUICE_AUTH_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter AuthHotPathBenchmark 2>&1 | grep BENCH
