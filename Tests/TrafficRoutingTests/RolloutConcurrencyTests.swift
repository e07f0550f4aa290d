import Synchronization
import Testing

@testable import TrafficRouting

@Suite("Rollout under load")
struct RolloutConcurrencyTests {
    /// Requests on several threads while SET_WEIGHTS, ROLLBACK and PROMOTE happen: every request gets a version
    /// that exists (a variant, or Production when the rollout no longer routes), never a missing assignment
    /// while routing is on.
    @Test("SET_WEIGHTS, ROLLBACK and PROMOTE under continuous requests") func commandsUnderLoad() async throws {
        let registry = FakeRegistry()
        let m = RolloutManager(directory: nil, registry: registry, clock: ManualClock())
        let flags = LoadFlags()
        _ = try m.execute(model: "churn", canary())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<2 {
                group.addTask {
                    var i = 0
                    while !flags.stop.load(ordering: .relaxed) {
                        let key = i % 3 == 0 ? "" : "w\(worker)-\(i)"
                        let version: Int64
                        if let a = m.assign(model: "churn", routingKey: key) {
                            version = a.version
                            m.record(a, outcome: Outcome(ok: true, latencyNs: 1000))
                        } else if let production = registry.productionVersion(model: "churn") {
                            version = production
                        } else {
                            version = -1
                        }
                        if ![1, 2, 3].contains(version) { flags.bad.add(1, ordering: .relaxed) }
                        flags.served.add(1, ordering: .relaxed)
                        i += 1
                        // The cooperative pool may have only two threads: let the command task run.
                        if i % 64 == 0 { await Task.yield() }
                    }
                }
            }
            group.addTask {
                for round in 0..<20 {
                    let percent = Double(round * 5)
                    _ = try m.execute(model: "churn", .setWeights(["baseline": 100 - percent, "candidate": percent]))
                    await Task.yield()
                }
                _ = try m.execute(model: "churn", .rollback(archiveCandidate: false))
                _ = try m.execute(model: "churn", canary(candidate: "3"))
                for _ in 0..<10 { await Task.yield() }
                _ = try m.execute(model: "churn", .promote(arm: nil))
                flags.stop.store(true, ordering: .relaxed)
            }
            try await group.waitForAll()
        }
        #expect(flags.bad.load(ordering: .relaxed) == 0)
        #expect(flags.served.load(ordering: .relaxed) > 0)
        #expect(registry.productionVersion(model: "churn") == 3)
        #expect(m.status(model: "churn").state == .promoted)
    }
}

/// Counters shared by the load tasks.
final class LoadFlags: Sendable {
    let bad = Atomic<Int>(0)
    let served = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
}
