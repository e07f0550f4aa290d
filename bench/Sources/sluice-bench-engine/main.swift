// Engine-alone benchmark: single thread, the fast predict path, on the fixture models.
//
// Usage: sluice-bench-engine [--seconds S] [--reps N] MODEL_DIR...
// Each MODEL_DIR holds model.onnx and inputs.json (the Tests/fixtures/models layout). Prints one JSON object per model:
// load time, resident memory per loaded model, rows/s at batch 1,024 (median of reps), latency per single row
// (median of reps), and CPU µs per row (thread CPU time).
import Foundation
import InferenceEngine

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func cpuNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Resident set size in bytes (from /proc/self/statm).
func rss() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (fields.count > 1 ? Int(fields[1]) ?? 0 : 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func median(_ v: [Double]) -> Double {
    let s = v.sorted()
    return s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}

var args = Array(CommandLine.arguments.dropFirst())
var seconds = 1.0
var reps = 5
var dirs: [String] = []
var singleOnly = false
var batchOnly = false
/// Extra batch sizes to time (CPU µs per row), e.g. `--batches 64,65536`.
var extraBatches: [Int] = []
while let a = args.first {
    args.removeFirst()
    switch a {
    case "--seconds": seconds = Double(args.removeFirst()) ?? seconds
    case "--reps": reps = Int(args.removeFirst()) ?? reps
    case "--single-only": singleOnly = true
    case "--batch-only": batchOnly = true
    case "--batches": extraBatches = args.removeFirst().split(separator: ",").compactMap { Int($0) }
    default: dirs.append(a)
    }
}

for dir in dirs {
    let name = URL(fileURLWithPath: dir).lastPathComponent
    let path = dir + "/model.onnx"
    // Load time (median of reps) and memory per loaded model (10 copies kept alive).
    var loads: [Double] = []
    var model = try CompiledModel(contentsOf: path)
    for _ in 0..<reps {
        let t0 = now()
        model = try CompiledModel(contentsOf: path)
        loads.append(now() - t0)
    }
    let before = rss()
    var keep: [(CompiledModel, ExecutionContext)] = []
    for _ in 0..<10 {
        let m = try CompiledModel(contentsOf: path)
        keep.append((m, m.makeContext()))
    }
    let perModel = Double(rss() - before) / 10
    keep.removeAll()

    // Rows in dense layout, tiled to 1,024.
    let sig = model.signature
    let (rows, feeds) = try BatchIO.readJSONInputs(
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/inputs.json"))), signature: sig)
    let nf = sig.numericFeatureCount
    var numeric = [Float](repeating: 0, count: rows * nf)
    var strings = [[String]](repeating: [], count: sig.stringFeatureCount)
    for f in sig.features {
        let t = feeds[sig.inputs[f.inputIndex].name]!
        let width = t.elementCount / max(rows, 1)
        for r in 0..<rows {
            switch t.values {
            case .float(let v): numeric[r * nf + f.position] = v[r * width + f.column]
            case .int64(let v): numeric[r * nf + f.position] = Float(v[r * width + f.column])
            case .string(let v): strings[f.position].append(v[r * width + f.column])
            default: break
            }
        }
    }
    let batch = 1024
    var bigNumeric: [Float] = []
    var bigStrings = [[String]](repeating: [], count: strings.count)
    for r in 0..<batch {
        bigNumeric += numeric[((r % rows) * nf)..<((r % rows + 1) * nf)]
        for k in strings.indices { bigStrings[k].append(strings[k][r % rows]) }
    }
    let ctx = model.makeContext()
    let result = PredictionResult()
    // Batch 1,024.
    var batchRates: [Double] = []
    var batchCPU: [Double] = []
    try bigNumeric.withUnsafeBufferPointer { p in
        for _ in 0..<3 { try model.predict(rows: batch, numeric: p, strings: bigStrings, context: ctx, into: result) }
        for _ in 0..<(singleOnly ? 0 : reps) {
            var n = 0
            let t0 = now(), c0 = cpuNow()
            repeat {
                try model.predict(rows: batch, numeric: p, strings: bigStrings, context: ctx, into: result)
                n += batch
            } while now() - t0 < seconds / Double(reps)
            batchRates.append(Double(n) / (now() - t0))
            batchCPU.append((cpuNow() - c0) / Double(n) * 1e6)
        }
    }
    // Batch 1: one row per call, cycling through the rows.
    var single: [Double] = []
    var singleCPU: [Double] = []
    var singleStrings = [[String]](repeating: [""], count: strings.count)
    try numeric.withUnsafeBufferPointer { p in
        for _ in 0..<(batchOnly ? 0 : reps) {
            var n = 0
            let t0 = now(), c0 = cpuNow()
            repeat {  // at least one pass, so a process descheduled past the deadline still divides by n > 0
                for _ in 0..<100 {
                    let r = n % rows
                    for k in strings.indices { singleStrings[k][0] = strings[k][r] }
                    try model.predict(
                        rows: 1, numeric: UnsafeBufferPointer(rebasing: p[(r * nf)..<(r * nf + nf)]),
                        strings: singleStrings, context: ctx, into: result)
                    n += 1
                }
            } while now() - t0 < seconds / Double(reps)
            single.append((now() - t0) / Double(n) * 1e6)
            singleCPU.append((cpuNow() - c0) / Double(n) * 1e6)
        }
    }
    // Other batch sizes: CPU µs per row, median of reps.
    var extra: [String: Any] = [:]
    for size in extraBatches {
        var tiled: [Float] = []
        tiled.reserveCapacity(size * nf)
        var tiledStrings = [[String]](repeating: [], count: strings.count)
        for r in 0..<size {
            tiled += numeric[((r % rows) * nf)..<((r % rows + 1) * nf)]
            for k in strings.indices { tiledStrings[k].append(strings[k][r % rows]) }
        }
        var cpu: [Double] = []
        try tiled.withUnsafeBufferPointer { p in
            try model.predict(rows: size, numeric: p, strings: tiledStrings, context: ctx, into: result)
            for _ in 0..<reps {
                var n = 0
                let t0 = now(), c0 = cpuNow()
                repeat {
                    try model.predict(rows: size, numeric: p, strings: tiledStrings, context: ctx, into: result)
                    n += size
                } while now() - t0 < seconds / Double(reps)
                cpu.append((cpuNow() - c0) / Double(n) * 1e6)
            }
        }
        extra["cpu_us_per_row_batch\(size)"] = median(cpu)
    }
    var out: [String: Any] = [
        "engine": "sluice", "model": name, "load_ms": median(loads) * 1000, "rss_per_model_mb": perModel / 1e6,
        "rows_per_s_batch1024": median(batchRates), "cpu_us_per_row_batch1024": median(batchCPU),
        "us_per_row_batch1": median(single), "cpu_us_per_row_batch1": median(singleCPU), "reps": reps,
    ]
    out.merge(extra) { a, _ in a }
    let data = try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}
