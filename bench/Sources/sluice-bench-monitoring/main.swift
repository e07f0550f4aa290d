// Recording cost of drift monitoring, in process: CPU ns per recorded row for a churn-like layout (4 numeric features
// with 50 quantile bins, one 3-category string feature, a binary prediction), on 1 thread and on 2 threads
// recording into the same version at once; plus the cost of computing one report and the counter memory.
//
// Usage: sluice-bench-monitoring [--rows N]
import Foundation
import Monitoring

/// CPU time of the whole process (the machine may be busy: wall time would count waiting).
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

var rows = 20_000_000
if let index = CommandLine.arguments.firstIndex(of: "--rows"), index + 1 < CommandLine.arguments.count {
    rows = Int(CommandLine.arguments[index + 1]) ?? rows
}

/// A deterministic pseudo-random generator (xorshift), so every run records the same rows.
struct XorShift {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    mutating func next() -> Double {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return Double(state >> 11) / Double(1 << 53)
    }
}
var random = XorShift()
@MainActor func next() -> Double { random.next() }

let names = ["age", "income", "tenure_months", "credit_score"]
let plans = ["basic", "plus", "premium"]
let training = (0..<5000).map { _ in names.map { _ in (next() * 1000).rounded() } }
let profile = ReferenceProfile(
    rows: 5000,
    features: names.enumerated().map { column, name in
        ProfileBuilder.numeric(name: name, values: training.map { $0[column] })
    } + [ProfileBuilder.categorical(name: "plan", values: (0..<5000).map { plans[$0 % 3] })],
    prediction: ProfileBuilder.prediction(
        kind: .binary, scores: (0..<5000).map { _ in next() }, classes: ["0", "1"],
        classIndices: (0..<5000).map { $0 % 2 }, positiveClass: 1))
let monitor = ModelMonitor(
    model: "churn", version: 1, profile: profile,
    features: names.enumerated().map { ModelMonitor.ModelFeature(name: $1, categorical: false, slot: $0) }
        + [ModelMonitor.ModelFeature(name: "plan", categorical: true, slot: 0)],
    prediction: .init(kind: .binary, classes: ["0", "1"], positiveClass: 1), settings: MonitorSettings(), now: 0)!

/// 4,096 distinct rows, replayed into the monitor.
final class Rows: @unchecked Sendable {
    let block: [Float]
    let strings: [[String]]
    let scores: [Double]
    let monitor: ModelMonitor

    init(_ monitor: ModelMonitor, block: [Float], strings: [[String]], scores: [Double]) {
        self.monitor = monitor
        self.block = block
        self.strings = strings
        self.scores = scores
    }

    func record(_ count: Int, offset: Int) {
        block.withUnsafeBufferPointer { numeric in
            for index in 0..<count {
                let row = (index + offset) & 4095
                monitor.record(
                    numeric: numeric, stride: 4, strings: strings, row: row, score: scores[row], classIndex: row & 1)
            }
        }
    }
}
let replay = Rows(
    monitor, block: (0..<4096 * 4).map { _ in Float((next() * 1000).rounded()) },
    strings: [(0..<4096).map { plans[$0 % 3] }], scores: (0..<4096).map { _ in next() })
@MainActor func record(_ count: Int, offset: Int) { replay.record(count, offset: offset) }

record(1_000_000, offset: 0)  // warm-up
var start = now()
record(rows, offset: 7)
let single = (now() - start) / Double(rows) * 1e9

let perThread = rows / 2
start = now()
let group = DispatchGroup()
for thread in 0..<2 {
    DispatchQueue.global().async(group: group) { [replay] in
        replay.record(perThread, offset: thread * 1000)
    }
}
group.wait()
let pair = (now() - start) / Double(2 * perThread) * 1e9

start = now()
for _ in 0..<100 { monitor.refresh(now: 1, wallMillis: 0) }
let report = (now() - start) / 100 * 1e6

print("""
    {"record_cpu_ns_per_row_1_thread": \(String(format: "%.1f", single)), \
    "record_cpu_ns_per_row_2_threads": \(String(format: "%.1f", pair)), \
    "report_us": \(String(format: "%.1f", report)), "counter_bytes_per_version": \(monitor.window.counterBytes)}
    """)
