#!/usr/bin/env bash
# libFuzzer run of the ONNX loader (ONNXFormat: the protobuf wire decoder and the model checks), with AddressSanitizer.
# Builds a standalone fuzzer from the same sources, seeds the corpus with the fixture models, and runs for
# FUZZ_SECONDS (default 60). Any crash or sanitizer report fails the script (libFuzzer exits non-zero).
# Usage: bench/engine-fuzz.sh [extra libFuzzer flags]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${FUZZ_DIR:-/tmp/sluice-engine-fuzz}
mkdir -p "$work/corpus"
cp "$root"/Tests/fixtures/models/*/model.onnx "$work/corpus/" 2>/dev/null || true
i=0; for f in "$root"/Tests/fixtures/models/*/model.onnx; do cp "$f" "$work/corpus/seed$i.onnx"; i=$((i + 1)); done
cat >"$work/entry.swift" <<'SWIFT'
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? ONNXModel(bytes: Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
SWIFT
swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name ONNXFuzz \
  "$root"/Sources/ONNXFormat/*.swift "$work/entry.swift" -o "$work/fuzz-onnx-loader"
"$work/fuzz-onnx-loader" -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048 -max_len=3000000 \
  "$@" "$work/corpus"
