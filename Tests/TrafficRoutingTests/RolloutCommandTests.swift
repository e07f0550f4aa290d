import Synchronization
import Testing

@testable import TrafficRouting

@Suite("Rollout commands")
struct RolloutCommandTests {
    let registry = FakeRegistry()
    let clock = ManualClock()

    func manager() -> RolloutManager { RolloutManager(directory: nil, registry: registry, clock: clock) }

    func expectError(
        _ code: RolloutError.Code, containing text: String, _ body: () throws(RolloutError) -> RolloutStatus,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let status = try body()
            Issue.record(
                "expected \(code) containing \"\(text)\", got a status in \(status.state)",
                sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation)
        }
    }

    @Test("START validation errors say what is wrong") func validation() {
        let m = manager()
        expectError(.notFound, containing: "no version 9") { () throws(RolloutError) in
            try m.execute(model: "churn", canary(candidate: "9"))
        }
        expectError(.invalidArgument, containing: "is the baseline version") { () throws(RolloutError) in
            try m.execute(model: "churn", canary(candidate: "1"))
        }
        expectError(.invalidArgument, containing: "step 2 percent 120.0 is out of range") { () throws(RolloutError) in
            try m.execute(model: "churn", canary(steps: [CanaryStep(percent: 10), CanaryStep(percent: 120)]))
        }
        expectError(.invalidArgument, containing: "not above the previous step") { () throws(RolloutError) in
            try m.execute(model: "churn", canary(steps: [CanaryStep(percent: 10), CanaryStep(percent: 5)]))
        }
        expectError(.invalidArgument, containing: "max_error_rate 2.0 is out of range") { () throws(RolloutError) in
            try m.execute(model: "churn", canary(guardrails: Guardrails(maxErrorRate: 2)))
        }
        expectError(.invalidArgument, containing: "weights sum to 90.0000, not 100") { () throws(RolloutError) in
            try m.execute(
                model: "churn",
                .start(
                    RolloutSpec(
                        strategy: .abTest,
                        arms: [
                            ABArm(name: "a", version: "1", weight: 40), ABArm(name: "b", version: "2", weight: 50),
                        ])))
        }
        expectError(.invalidArgument, containing: "at least two arms") { () throws(RolloutError) in
            try m.execute(
                model: "churn",
                .start(
                    RolloutSpec(
                        strategy: .abTest,
                        arms: [
                            ABArm(name: "a", version: "1", weight: 100)
                        ])))
        }
        expectError(.invalidArgument, containing: "both resolve to version 1") { () throws(RolloutError) in
            try m.execute(
                model: "churn",
                .start(
                    RolloutSpec(
                        strategy: .abTest,
                        arms: [
                            ABArm(name: "a", version: "1", weight: 50),
                            ABArm(name: "b", version: "production", weight: 50),
                        ])))
        }
        expectError(.invalidArgument, containing: "may not contain") { () throws(RolloutError) in
            try m.execute(model: "../etc", .get)
        }
        #expect(m.status(model: "churn").state == .none)
    }

    @Test("no Production and no baseline named") func noProduction() {
        let m = RolloutManager(directory: nil, registry: FakeRegistry(production: nil), clock: clock)
        expectError(.invalidArgument, containing: "has no Production version") { () throws(RolloutError) in
            try m.execute(model: "churn", canary())
        }
    }

    @Test("a second START is FAILED_PRECONDITION naming the running rollout") func secondStart() throws {
        let m = manager()
        let first = try m.execute(model: "churn", canary())
        expectError(.failedPrecondition, containing: first.rolloutID) { () throws(RolloutError) in
            try m.execute(model: "churn", canary(candidate: "3"))
        }
        // Another model is independent.
        #expect(try m.execute(model: "fraud", canary()).state == .running)
        // After it ends, a new one may start, with a new id.
        _ = try m.execute(model: "churn", .rollback(archiveCandidate: false))
        let second = try m.execute(model: "churn", canary(candidate: "3"))
        #expect(second.rolloutID != first.rolloutID && second.state == .running)
    }

    @Test("PAUSE, RESUME and their preconditions") func pauseResume() throws {
        let m = manager()
        expectError(.notFound, containing: "has no rollout") { () throws(RolloutError) in
            try m.execute(model: "churn", .pause)
        }
        _ = try m.execute(model: "churn", canary())
        #expect(try m.execute(model: "churn", .pause).state == .paused)
        expectError(.failedPrecondition, containing: "is PAUSED, not RUNNING") { () throws(RolloutError) in
            try m.execute(model: "churn", .pause)
        }
        // Paused rollouts keep splitting traffic.
        #expect(m.assign(model: "churn", routingKey: "k") != nil)
        let resumed = try m.execute(model: "churn", .resume)
        #expect(resumed.state == .running)
        #expect(resumed.history.map(\.to) == [.running, .paused, .running])
    }

    @Test("ADVANCE walks the steps and stops at the last") func advance() throws {
        let m = manager()
        _ = try m.execute(model: "churn", canary())
        #expect(try m.execute(model: "churn", .advance).variants[1].weight == 25)
        #expect(try m.execute(model: "churn", .advance).variants[1].weight == 100)
        expectError(.failedPrecondition, containing: "last step") { () throws(RolloutError) in
            try m.execute(model: "churn", .advance)
        }
    }

    @Test("SET_WEIGHTS validates names and sums, and takes effect at once") func setWeights() throws {
        let m = manager()
        _ = try m.execute(model: "churn", canary())
        expectError(.invalidArgument, containing: "unknown variant \"blue\"") { () throws(RolloutError) in
            try m.execute(model: "churn", .setWeights(["baseline": 50, "blue": 50]))
        }
        expectError(.invalidArgument, containing: "missing a weight for variant \"candidate\"") {
            () throws(RolloutError) in
            try m.execute(model: "churn", .setWeights(["baseline": 100]))
        }
        expectError(.invalidArgument, containing: "sum to 110") { () throws(RolloutError) in
            try m.execute(model: "churn", .setWeights(["baseline": 60, "candidate": 50]))
        }
        let status = try m.execute(model: "churn", .setWeights(["baseline": 0, "candidate": 100]))
        #expect(status.variants.map(\.weight) == [0, 100])
        for i in 0..<100 { #expect(m.assign(model: "churn", routingKey: "k\(i)")?.version == 2) }
        #expect(m.trafficShare(model: "churn", version: 2) == 1)
    }

    @Test("ROLLBACK sends everything to the baseline and archives the candidate by flag") func rollback() throws {
        let m = manager()
        _ = try m.execute(model: "churn", canary())
        let status = try m.execute(model: "churn", .rollback(archiveCandidate: true))
        #expect(status.state == .rolledBack)
        #expect(registry.state.withLock { $0.archived } == [2])
        #expect(m.assign(model: "churn", routingKey: "k") == nil)  // baseline is Production
        expectError(.failedPrecondition, containing: "has ended (ROLLED_BACK)") { () throws(RolloutError) in
            try m.execute(model: "churn", .promote(arm: nil))
        }
    }

    @Test("ROLLBACK to a baseline that is not Production keeps routing to it") func rollbackNonProduction() throws {
        let m = manager()
        _ = try m.execute(model: "churn", .start(RolloutSpec(strategy: .canary, baseline: "3", candidate: "2")))
        _ = try m.execute(model: "churn", .rollback(archiveCandidate: false))
        for i in 0..<100 { #expect(m.assign(model: "churn", routingKey: "k\(i)")?.version == 3) }
        #expect(registry.state.withLock { $0.archived }.isEmpty)
    }

    @Test("PROMOTE makes the candidate Production and archives the baseline") func promote() throws {
        let m = manager()
        _ = try m.execute(model: "churn", canary())
        let status = try m.execute(model: "churn", .promote(arm: nil))
        #expect(status.state == .promoted)
        #expect(registry.productionVersion(model: "churn") == 2)
        #expect(registry.state.withLock { $0.archived } == [1])
        #expect(status.history.last?.from == .running && status.history.last?.to == .promoted)
    }

    @Test("a failed PROMOTE leaves the split as it was") func promoteFailure() throws {
        let m = manager()
        _ = try m.execute(model: "churn", canary())
        registry.state.withLock { $0.failPromotion = true }
        expectError(.internalError, containing: "disk full") { () throws(RolloutError) in
            try m.execute(model: "churn", .promote(arm: nil))
        }
        let status = m.status(model: "churn")
        #expect(status.state == .running && status.variants[1].weight == 10)
        var candidates = 0
        for i in 0..<10_000 where m.assign(model: "churn", routingKey: "k\(i)")?.version == 2 { candidates += 1 }
        #expect(candidates > 800 && candidates < 1200)
    }
}
