import Synchronization
import Testing

@testable import TrafficRouting

@Suite("Automatic canary decisions")
struct CanaryJudgeTests {
    let registry = FakeRegistry()
    let clock = ManualClock()

    func manager() -> RolloutManager { RolloutManager(directory: nil, registry: registry, clock: clock) }

    /// Sends `count` keyed requests; the candidate's outcome comes from `candidate`, the baseline's is healthy.
    /// Returns (baseline failures, candidate requests served).
    @discardableResult
    func drive(
        _ m: RolloutManager, count: Int, from start: Int = 0, msPerRequest: Int64 = 0,
        candidate: (Int) -> Outcome = { _ in Outcome(ok: true, latencyNs: 2_000_000) }
    ) -> (baselineFailures: Int, candidateServed: Int) {
        var baselineFailures = 0
        var candidateServed = 0
        for i in start..<(start + count) {
            clock.advance(ms: msPerRequest)
            guard let a = m.assign(model: "churn", routingKey: "user-\(i)") else { continue }  // → Production
            let outcome: Outcome
            if a.variantName == "candidate" {
                candidateServed += 1
                outcome = candidate(i)
            } else {
                outcome = Outcome(ok: true, latencyNs: 2_000_000 + UInt64(i % 7) * 100_000)
                if !outcome.ok { baselineFailures += 1 }
            }
            m.record(a, outcome: outcome)
        }
        return (baselineFailures, candidateServed)
    }

    @Test("a failing candidate is rolled back within the step's minimum requests, with the reason")
    func rollbackOnErrors() throws {
        let m = manager()
        _ = try m.execute(model: "churn", canary(guardrails: Guardrails(maxErrorRate: 0.01), auto: true))
        // The candidate's signature needs a feature the clients do not send: every call fails.
        let result = drive(m, count: 20_000) { _ in Outcome(ok: false, latencyNs: 100_000) }
        let status = m.status(model: "churn")
        #expect(status.state == .rolledBack)
        #expect(result.baselineFailures == 0)
        let candidate = status.variants[1].overall
        #expect(candidate.requests <= 200, "rolled back after \(candidate.requests) candidate requests")
        #expect(status.lastDecision.hasPrefix("rolled back: candidate error rate 100.0% > limit 1.0% over "))
        #expect(status.history.last?.to == .rolledBack)
        #expect(status.history.last?.reason == status.lastDecision)
        // All traffic is back on the baseline (Production), so nothing goes through the rollout any more.
        for i in 0..<1000 { #expect((m.assign(model: "churn", routingKey: "user-\(i)")?.version ?? 1) == 1) }
        #expect(registry.productionVersion(model: "churn") == 1)
    }

    @Test("a slow candidate is rolled back on p99, one slow call is not enough") func rollbackOnLatency() throws {
        let m = manager()
        let guardrails = Guardrails(maxP99Ms: 50, maxP99Ratio: 3)
        _ = try m.execute(model: "churn", canary(guardrails: guardrails, auto: true))
        // One very slow call among fast ones does not breach p99 at the minimum sample.
        drive(m, count: 600) { i in Outcome(ok: true, latencyNs: i == 3 ? 900_000_000 : 2_000_000) }
        #expect(m.status(model: "churn").state == .running)
        drive(m, count: 20_000, from: 600) { _ in Outcome(ok: true, latencyNs: 250_000_000) }
        let status = m.status(model: "churn")
        #expect(status.state == .rolledBack)
        #expect(status.lastDecision.contains("candidate p99 latency"), "\(status.lastDecision)")
    }

    @Test("the increase over the baseline's error rate is a guardrail") func rollbackOnIncrease() throws {
        let m = manager()
        _ = try m.execute(model: "churn", canary(guardrails: Guardrails(maxErrorRateIncrease: 0.05), auto: true))
        drive(m, count: 20_000) { i in Outcome(ok: i % 5 != 0, latencyNs: 1_000_000) }  // 20% errors
        let status = m.status(model: "churn")
        #expect(status.state == .rolledBack)
        #expect(status.lastDecision.contains("exceeds baseline 0.0% by"), "\(status.lastDecision)")
    }

    @Test("the reason reads like the issue's example") func reasonFormat() throws {
        var data = try RolloutBuilder(model: "churn", registry: registry).build(
            RolloutSpec(
                strategy: .canary, candidate: "2", steps: [CanaryStep(percent: 10, minRequests: 5000)],
                guardrails: Guardrails(maxErrorRate: 0.01, minSampleRequests: 2000)),
            id: "r", now: 0)
        for i in 0..<2000 { data.stepStats[1].record(Outcome(ok: i >= 82, latencyNs: 1000)) }
        #expect(
            CanaryJudge.decide(data, now: 0)
                == .rollback("rolled back: candidate error rate 4.1% > limit 1.0% over 2,000 requests"))
    }

    @Test("latencies in reasons keep their significant digits") func latencyFormat() {
        #expect(CanaryJudge.ms(250.4) == "250 ms")
        #expect(CanaryJudge.ms(12.54) == "12.5 ms")
        #expect(CanaryJudge.ms(1.254) == "1.25 ms")
        #expect(CanaryJudge.ms(0.0812) == "0.081 ms")
    }

    @Test("a healthy candidate walks through every step and ends PROMOTED") func promotion() throws {
        let m = manager()
        let steps = [1.0, 5, 25, 50, 100].map { CanaryStep(percent: $0, minRequests: 100, minDurationMs: 5_000) }
        let guardrails = Guardrails(maxErrorRate: 0.01, maxErrorRateIncrease: 0.01, maxP99Ms: 100, maxP99Ratio: 2)
        _ = try m.execute(model: "churn", canary(steps: steps, guardrails: guardrails, auto: true))
        var seenSteps: Set<Int> = []
        var start = 0
        while m.status(model: "churn").state == .running, start < 200_000 {
            seenSteps.insert(m.status(model: "churn").stepIndex)
            let r = drive(m, count: 1000, from: start, msPerRequest: 10)
            #expect(r.baselineFailures == 0)
            start += 1000
        }
        let status = m.status(model: "churn")
        #expect(status.state == .promoted, "\(status.lastDecision)")
        #expect(seenSteps.contains(0) && seenSteps.contains(1))
        #expect(status.lastDecision.hasPrefix("promoted: step 5 at 100.0% held"))
        let advances = status.history.filter { $0.reason.hasPrefix("advanced to step") }
        #expect(advances.count == 4)
        #expect(registry.productionVersion(model: "churn") == 2)
        #expect(registry.state.withLock { $0.archived } == [1])
        #expect(m.assign(model: "churn", routingKey: "x") == nil)  // Production (now 2) serves directly
    }

    @Test("minimum duration holds a step even with enough requests") func minimumDuration() throws {
        let m = manager()
        let steps = [CanaryStep(percent: 50, minRequests: 10, minDurationMs: 60_000), CanaryStep(percent: 100)]
        _ = try m.execute(
            model: "churn", canary(steps: steps, guardrails: Guardrails(minSampleRequests: 10), auto: true))
        drive(m, count: 2000)
        #expect(m.status(model: "churn").stepIndex == 0)
        clock.advance(ms: 60_000)
        m.tick()  // no traffic needed for a time-based advance
        #expect(m.status(model: "churn").stepIndex == 1)
    }

    @Test("without auto nothing happens by itself") func manual() throws {
        let m = manager()
        _ = try m.execute(model: "churn", canary(guardrails: Guardrails(maxErrorRate: 0.01), auto: false))
        drive(m, count: 5000) { _ in Outcome(ok: false, latencyNs: 1) }
        let status = m.status(model: "churn")
        #expect(status.state == .running && status.stepIndex == 0)
    }

    @Test("a failed registry promotion pauses the rollout with the reason") func promotionFailure() throws {
        let m = manager()
        registry.state.withLock { $0.failPromotion = true }
        _ = try m.execute(
            model: "churn",
            canary(
                steps: [CanaryStep(percent: 100, minRequests: 20)],
                guardrails: Guardrails(minSampleRequests: 20), auto: true))
        drive(m, count: 500)
        let status = m.status(model: "churn")
        #expect(status.state == .paused)
        #expect(status.lastDecision.contains("disk full"))
        #expect(registry.productionVersion(model: "churn") == 1)
    }
}
