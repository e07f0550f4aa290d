import Foundation
import Testing

@testable import TrafficRouting

@Suite("Rollout persistence")
struct RolloutPersistenceTests {
    let registry = FakeRegistry()
    let clock = ManualClock()

    @Test("restart mid-rollout: same state, weights, statistics and key assignments") func restart() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = RolloutManager(directory: dir, registry: registry, clock: clock)
        let steps = [
            CanaryStep(percent: 10), CanaryStep(percent: 25, minRequests: 1_000_000), CanaryStep(percent: 100),
        ]
        _ = try first.execute(
            model: "churn", canary(steps: steps, guardrails: Guardrails(maxErrorRate: 0.5), auto: true, shadow: "3"))
        _ = try first.execute(model: "churn", .advance)
        for i in 0..<3000 {
            guard let a = first.assign(model: "churn", routingKey: "user-\(i)") else { continue }
            first.record(
                a,
                outcome: Outcome(
                    ok: i % 50 != 0, latencyNs: UInt64(1_000_000 + i * 1000), confidence: 0.9,
                    positive: i % 2 == 0, score: 0.3))
            first.recordShadow(a, outcome: Outcome(ok: true, latencyNs: 1_000_000), agreed: i % 10 != 0)
        }
        clock.advance(ms: 2000)
        first.tick()  // statistics are saved about once a second
        let before = first.status(model: "churn")
        #expect(before.state == .running && before.stepIndex == 1)
        #expect(FileManager.default.fileExists(atPath: dir + "/churn/rollout.json"))

        let second = RolloutManager(directory: dir, registry: registry, clock: clock)
        #expect(second.restore().isEmpty)
        let after = second.status(model: "churn")
        #expect(after == before)
        for i in 0..<20_000 {
            let key = "k-\(i)"
            #expect(
                first.assign(model: "churn", routingKey: key)?.version
                    == second.assign(model: "churn", routingKey: key)?.version)
        }
    }

    @Test("every command is saved at once") func commandsSaved() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = RolloutManager(directory: dir, registry: registry, clock: clock)
        _ = try m.execute(model: "churn", canary())
        _ = try m.execute(model: "churn", .setWeights(["baseline": 70, "candidate": 30]))
        _ = try m.execute(model: "churn", .pause)
        let restored = RolloutManager(directory: dir, registry: registry, clock: clock)
        restored.restore()
        let status = restored.status(model: "churn")
        #expect(status.state == .paused)
        #expect(status.variants.map(\.weight) == [70, 30])
        #expect(status.history.count == 3)
    }

    @Test("an ended rollout stays ended after a restart") func endedStaysEnded() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = RolloutManager(directory: dir, registry: registry, clock: clock)
        _ = try m.execute(model: "churn", canary())
        _ = try m.execute(model: "churn", .rollback(archiveCandidate: false))
        let restored = RolloutManager(directory: dir, registry: registry, clock: clock)
        restored.restore()
        #expect(restored.status(model: "churn").state == .rolledBack)
        #expect(restored.assign(model: "churn", routingKey: "k") == nil)
    }

    @Test("a damaged file is reported, not fatal") func damaged() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/churn", withIntermediateDirectories: true)
        try Data("{\"id\": 3".utf8).write(to: URL(fileURLWithPath: dir + "/churn/rollout.json"))
        try FileManager.default.createDirectory(atPath: dir + "/fraud", withIntermediateDirectories: true)
        let m = RolloutManager(directory: dir, registry: registry, clock: clock)
        let problems = m.restore()
        #expect(problems.count == 1)
        #expect(problems.first?.message.contains("churn/rollout.json") == true)
        #expect(m.status(model: "churn").state == .none)
    }

    /// Saves a real rollout, rewrites one field of its JSON with `edit`, and restores it.
    func restoreEdited(_ edit: (inout [String: Any]) -> Void) throws -> (RolloutManager, [RolloutError]) {
        let dir = temporaryDirectory()
        let m = RolloutManager(directory: dir, registry: registry, clock: clock)
        _ = try m.execute(model: "churn", canary(shadow: "3"))
        let path = dir + "/churn/rollout.json"
        var json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        let restored = RolloutManager(directory: dir, registry: registry, clock: clock)
        let problems = restored.restore()
        try? FileManager.default.removeItem(atPath: dir)
        return (restored, problems)
    }

    @Test("inconsistent files are reported, not fatal") func inconsistent() throws {
        let edits: [(String, (inout [String: Any]) -> Void)] = [
            ("baseline index", { $0["baselineIndex"] = 7 }),
            ("candidate index", { $0["candidateIndex"] = -3 }),
            ("step index", { $0["stepIndex"] = 99 }),
            ("start time", { $0["stepStartedUnixMs"] = Int64.min }),
            ("format", { $0["formatVersion"] = 3 }),
            ("model", { $0["model"] = "fraud" }),
            ("statistics", { $0["stepStats"] = [[:] as [String: Any]] }),
            (
                "weights",
                {
                    var variants = $0["variants"] as? [[String: Any]] ?? []
                    variants[0]["weightBP"] = -5000
                    variants[1]["weightBP"] = 15000
                    $0["variants"] = variants
                }
            ),
        ]
        for (name, edit) in edits {
            let (m, problems) = try restoreEdited(edit)
            #expect(problems.count == 1, "\(name)")
            #expect(m.status(model: "churn").state == .none, "\(name)")
        }
    }

    @Test("counters at their limit do not trap") func saturatedCounters() throws {
        // A format-1 file (one replica, statistics inside) is still read.
        let (m, problems) = try restoreEdited { json in
            let n = (json["variants"] as? [Any])?.count ?? 0
            let saturated: [String: Any] = [
                "requests": UInt64.max, "errors": UInt64.max, "latency": [] as [Any],
                "latencyMs": ["count": 0, "mean": 0, "m2": 0], "confidence": ["count": 0, "mean": 0, "m2": 0],
                "score": ["count": 0, "mean": 0, "m2": 0], "positives": 0, "positiveObserved": 0,
                "shadowCompared": 0, "shadowAgreed": 0,
            ]
            json["formatVersion"] = 1
            json["overallStats"] = Array(repeating: saturated, count: n)
            json["stepStats"] = Array(repeating: saturated, count: n)
            json["routingGeneration"] = UInt64.max
        }
        #expect(problems.isEmpty)
        let a = try #require(m.assign(model: "churn", routingKey: "k"))
        m.record(a, outcome: Outcome(ok: false, latencyNs: 1))
        _ = try m.execute(model: "churn", .setWeights(["baseline": 50, "candidate": 50]))
        #expect(m.status(model: "churn").state == .running)
    }
}
