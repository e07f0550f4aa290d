import Foundation
import Synchronization
import Testing

@testable import TrafficRouting

/// Replicas sharing a registry directory: the structure in `rollout.json` with a generation, each replica's
/// statistics in a file of its own, verdicts taken once by the lease holder from the summed counts.
@Suite("Rollouts shared by replicas")
struct RolloutManagerFleetTests {
    let registry = FakeRegistry()
    let clock = ManualClock()

    func replica(_ dir: String, _ name: String) -> RolloutManager {
        let m = RolloutManager(directory: dir, registry: registry, clock: clock, replicaID: name)
        m.restore()
        return m
    }

    func json(_ path: String) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    /// Records `count` outcomes on the candidate through `m` (keys chosen to land on it).
    func recordOnCandidate(_ m: RolloutManager, count: Int, ok: Bool, prefix: String) {
        var recorded = 0
        var i = 0
        while recorded < count {
            i += 1
            guard let a = m.assign(model: "churn", routingKey: "\(prefix)-\(i)"), a.variantName == "candidate" else {
                continue
            }
            m.record(a, outcome: Outcome(ok: ok, latencyNs: 1_000_000))
            recorded += 1
        }
    }

    @Test("rollout.json holds the structure and a generation; each replica's counts go to its own file")
    func separation() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = replica(dir, "a")
        _ = try a.execute(model: "churn", canary())
        recordOnCandidate(a, count: 30, ok: true, prefix: "k")
        a.tick()
        let structure = try json(dir + "/churn/rollout.json")
        #expect(structure["formatVersion"] as? Int == 2)
        #expect(structure["stateGeneration"] as? Int == 1)
        #expect((structure["stepStats"] as? [Any])?.isEmpty == true)
        #expect((structure["overallStats"] as? [Any])?.isEmpty == true)
        let stats = try json(dir + "/churn/rollout-stats/a.json")
        #expect(stats["replica"] as? String == "a")
        let overall = try #require(stats["overallStats"] as? [[String: Any]])
        #expect(overall[1]["requests"] as? Int == 30)
        // Statistics alone never rewrite the structure.
        recordOnCandidate(a, count: 5, ok: true, prefix: "more")
        clock.advance(ms: 1000)
        a.tick()
        #expect(try json(dir + "/churn/rollout.json")["stateGeneration"] as? Int == 1)
    }

    @Test("a second replica follows the structure and routes every key the same way")
    func following() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = replica(dir, "a")
        let b = replica(dir, "b")
        let started = try a.execute(model: "churn", canary())
        #expect(b.assign(model: "churn", routingKey: "x") == nil)
        b.tick()
        #expect(b.status(model: "churn").rolloutID == started.rolloutID)
        for i in 0..<5000 {
            #expect(
                a.assign(model: "churn", routingKey: "u\(i)")?.version
                    == b.assign(model: "churn", routingKey: "u\(i)")?.version)
        }
        _ = try a.execute(model: "churn", .advance)
        b.tick()
        let followed = b.status(model: "churn")
        #expect(followed.stepIndex == 1 && followed.variants.map(\.weight) == [75, 25] && followed.generation == 2)
        // A replica joining now routes like the others at once.
        let c = replica(dir, "c")
        for i in 0..<2000 {
            #expect(
                a.assign(model: "churn", routingKey: "j\(i)")?.version
                    == c.assign(model: "churn", routingKey: "j\(i)")?.version)
        }
    }

    @Test("a write against a stale generation is refused; a command re-reads and applies to the latest")
    func generationCheck() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = replica(dir, "a")
        let b = replica(dir, "b")
        _ = try a.execute(model: "churn", canary())
        b.tick()
        _ = try a.execute(model: "churn", .advance)  // generation 2; b still has 1 in memory
        let stale = try #require(b.rollout(of: "churn"))
        #expect(throws: RolloutError.self) {
            try b.commit(stale) { d in d.transition(to: .paused, reason: "stale", at: 0) }
        }
        do {
            try b.commit(stale) { d in d.transition(to: .paused, reason: "stale", at: 0) }
        } catch {
            #expect(error.code == .aborted)
        }
        #expect(try json(dir + "/churn/rollout.json")["stateGeneration"] as? Int == 2)
        #expect(stale.data.withLock { $0.state } == .running)  // nothing applied
        // A command re-reads first: the advance taken on `a` is kept, the pause applies on top of it.
        let paused = try b.execute(model: "churn", .pause)
        #expect(paused.state == .paused && paused.stepIndex == 1 && paused.generation == 3)
        a.tick()
        #expect(a.status(model: "churn").state == .paused)
        // Commands that no longer fit fail precisely.
        _ = try a.execute(model: "churn", .rollback(archiveCandidate: false))
        #expect(
            throws: RolloutError.precondition(
                "rollout \(paused.rolloutID) of model churn has ended (ROLLED_BACK); START a new one")
        ) {
            _ = try b.execute(model: "churn", .resume)
        }
    }

    @Test("the lease holder judges from every replica's counts, once for the fleet")
    func fleetVerdict() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = replica(dir, "a")
        let b = replica(dir, "b")
        var guardrails = Guardrails(maxErrorRate: 0.1)
        guardrails.minSampleRequests = 20
        _ = try a.execute(
            model: "churn",
            canary(
                steps: [CanaryStep(percent: 50, minRequests: 1000), CanaryStep(percent: 100)],
                guardrails: guardrails, auto: true))
        a.tick()  // a takes the lease
        b.tick()  // b follows; the lease is a's
        recordOnCandidate(a, count: 12, ok: false, prefix: "a")
        a.tick()  // a holds the lease, sees 12 < 20 candidate requests: no decision yet
        #expect(a.status(model: "churn").state == .running)
        recordOnCandidate(b, count: 12, ok: false, prefix: "b")
        b.tick()  // b writes its counts; it does not hold the lease, so it does not judge
        #expect(b.status(model: "churn").state == .running)
        clock.advance(ms: 100)
        a.tick()  // 24 failures summed: rolled back
        let status = a.status(model: "churn")
        #expect(status.state == .rolledBack)
        #expect(status.variants[1].overall.requests == 24)
        #expect(Set(status.replicas.map(\.replicaID)) == ["a", "b"])
        b.tick()
        #expect(b.status(model: "churn").state == .rolledBack)
        // All traffic on the baseline: routed to it, or (once settled, the baseline being Production) not routed.
        #expect(b.assign(model: "churn", routingKey: "any").map { $0.variantName == "baseline" } ?? true)
        #expect(a.verdictCounts().map(\.verdict) == [.rollback])
        #expect(b.verdictCounts().isEmpty)
        #expect(status.history.filter { $0.to == .rolledBack }.count == 1)
    }

    @Test("a restarted replica resumes from its own statistics file")
    func restartKeepsCounts() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = replica(dir, "a")
        _ = try a.execute(model: "churn", canary())
        recordOnCandidate(a, count: 40, ok: true, prefix: "k")
        a.flush()
        let again = replica(dir, "a")
        #expect(again.status(model: "churn").variants[1].overall.requests == 40)
    }

    @Test("a failed write of the shared state is an error the caller sees, and is counted")
    func writeFailure() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/churn/rollout.json", withIntermediateDirectories: true)
        let a = RolloutManager(directory: dir, registry: registry, clock: clock, replicaID: "a")
        #expect(throws: RolloutError.self) { _ = try a.execute(model: "churn", canary()) }
        do { _ = try a.execute(model: "churn", canary()) } catch {
            #expect(error.code == .internalError && error.message.contains("rollout not started"))
        }
        #expect(a.stateWriteErrors == 2)
        #expect(a.assign(model: "churn", routingKey: "k") == nil)
    }
}
