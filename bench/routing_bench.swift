// Micro-benchmark of the rollout splitter's per-request path (TrafficRouting only; no server).
// Built and run by bench/routing-bench. Prints medians of `--reps` runs, ns per operation.
import Foundation
import TrafficRouting

struct Registry: RolloutRegistry {
    func resolve(model: String, selector: String) throws -> Int64 {
        guard let v = Int64(selector) else { throw RolloutError(.notFound, "no version \(selector)") }
        return v
    }
    func productionVersion(model: String) -> Int64? { 1 }
    func promote(model: String, candidate: Int64, archiving baseline: Int64?) throws {}
    func archive(model: String, version: Int64) throws {}
}

func nowNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func cpuNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

let args = CommandLine.arguments
let reps = args.firstIndex(of: "--reps").flatMap { Int(args[$0 + 1]) } ?? 5
let iterations = args.firstIndex(of: "--iterations").flatMap { Int(args[$0 + 1]) } ?? 2_000_000

let manager = RolloutManager(directory: nil, registry: Registry())
_ = try manager.execute(
    model: "churn",
    .start(
        RolloutSpec(
            strategy: .abTest,
            arms: [
                ABArm(name: "a", version: "1", weight: 50), ABArm(name: "b", version: "2", weight: 50),
            ])))
// Keys as a client would send them: 36-character UUID strings.
let keys = (0..<4096).map { _ in UUID().uuidString }

func measure(_ name: String, _ body: (Int) -> Int) {
    var wall: [Double] = []
    var cpu: [Double] = []
    var sink = 0
    for _ in 0..<reps {
        let w0 = nowNs(), c0 = cpuNs()
        for i in 0..<iterations { sink &+= body(i) }
        wall.append(Double(nowNs() - w0) / Double(iterations))
        cpu.append(Double(cpuNs() - c0) / Double(iterations))
    }
    wall.sort()
    cpu.sort()
    print(
        String(
            format: "%-44@ %8.1f ns/op wall  %8.1f ns/op cpu  (median of %d × %d; sink %d)",
            name as NSString, wall[reps / 2], cpu[reps / 2], reps, iterations, sink & 1))
}

measure("assign, 36-byte routing key") { i in
    Int(manager.assign(model: "churn", routingKey: keys[i & 4095])?.version ?? 0)
}
measure("assign, no key (random at weights)") { _ in
    Int(manager.assign(model: "churn", routingKey: "")?.version ?? 0)
}
let idle = RolloutManager(directory: nil, registry: Registry())
measure("assign, server without any rollout") { i in
    Int(idle.assign(model: "churn", routingKey: keys[i & 4095])?.version ?? 0)
}
measure("assign, other model has a rollout") { i in
    Int(manager.assign(model: "fraud", routingKey: keys[i & 4095])?.version ?? 0)
}
measure("assign + record(ok, latency, conf, positive)") { i in
    guard let a = manager.assign(model: "churn", routingKey: keys[i & 4095]) else { return 0 }
    manager.record(
        a,
        outcome: Outcome(
            ok: true, latencyNs: UInt64(1_000 + (i & 1023) * 100), confidence: 0.9,
            positive: i & 1 == 0, score: 0.4))
    return Int(a.version)
}
let keyBytes = keys.map { Array($0.utf8) }
measure("hash only (RoutingKeyHash.basisPoints)") { i in
    let prefix: UInt64 = 0x1234_5678
    return keyBytes[i & 4095].withUnsafeBytes { RoutingKeyHash.basisPoints(prefix: prefix, keyBytes: $0) }
}
