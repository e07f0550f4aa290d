import Testing

@testable import TrafficRouting

@Suite("Traffic splitting")
struct RolloutManagerSplitTests {
    let registry = FakeRegistry()
    let clock = ManualClock()

    /// A fixed rollout id and splitter seed: the binomial bounds below hold for these draws on every run (they
    /// were chosen as 99.9% bounds, so a random id would fail one run in a thousand by chance).
    func manager() -> RolloutManager {
        RolloutManager(
            directory: nil, registry: registry, clock: clock, randomSeed: 0x5eed_0001,
            rolloutID: { "0123456789abcdef0123456789abcdef" })
    }

    @Test("no rollout: no assignment") func noRollout() {
        #expect(manager().assign(model: "churn", routingKey: "k") == nil)
    }

    @Test("100,000 keys at 10% land on the candidate within binomial 99.9% bounds, sticky, monotone to 25%")
    func splitAccuracy() throws {
        let m = manager()
        let status = try m.execute(model: "churn", canary())
        #expect(status.variants.map(\.weight) == [90, 10])
        var onCandidate = [Bool](repeating: false, count: 100_000)
        var count = 0
        for i in 0..<100_000 {
            let a = try #require(m.assign(model: "churn", routingKey: "customer-\(i)"))
            #expect(a.version == 1 || a.version == 2)
            #expect(a.variantName == (a.version == 2 ? "candidate" : "baseline"))
            onCandidate[i] = a.version == 2
            if onCandidate[i] { count += 1 }
        }
        // binomial(100000, 0.10): scipy.stats.binom.ppf(0.0005, …) = 9689, binom.ppf(0.9995, …) = 10313.
        #expect(count >= 9689 && count <= 10313, "\(count) keys on the candidate")

        // Sticky: the same key always gets the same variant.
        for i in stride(from: 0, to: 100_000, by: 97) {
            for _ in 0..<3 {
                #expect(m.assign(model: "churn", routingKey: "customer-\(i)")?.version == (onCandidate[i] ? 2 : 1))
            }
        }

        // 10% → 25%: no key moves from candidate back to baseline.
        let advanced = try m.execute(model: "churn", .advance)
        #expect(advanced.stepIndex == 1)
        #expect(advanced.variants.map(\.weight) == [75, 25])
        var moved = 0
        var count25 = 0
        for i in 0..<100_000 {
            let v = m.assign(model: "churn", routingKey: "customer-\(i)")?.version
            if v == 2 { count25 += 1 }
            if onCandidate[i], v != 2 { moved += 1 }
        }
        #expect(moved == 0)
        // binomial(100000, 0.25) 99.9% bounds: binom.ppf(0.0005/0.9995, 100000, 0.25) = [24550, 25451].
        #expect(count25 >= 24550 && count25 <= 25451, "\(count25) keys at 25%")
    }

    @Test("many models with rollouts at once (short list and dictionary lookups)") func manyModels() throws {
        let m = manager()
        for n in 0..<12 {
            _ = try m.execute(model: "model\(n)", canary())
            for k in 0...n {
                let a = try #require(m.assign(model: "model\(k)", routingKey: "key"))
                #expect(a.version == 1 || a.version == 2)
            }
            #expect(m.assign(model: "model\(n + 1)", routingKey: "key") == nil)
        }
        for n in 0..<12 { _ = try m.execute(model: "model\(n)", .rollback(archiveCandidate: false)) }
        for n in 0..<12 { #expect(m.assign(model: "model\(n)", routingKey: "key") == nil) }
    }

    @Test("requests without a key are split at random at the weights") func randomSplit() throws {
        let m = manager()
        _ = try m.execute(model: "churn", canary())
        var count = 0
        for _ in 0..<100_000 where m.assign(model: "churn", routingKey: "")?.version == 2 { count += 1 }
        #expect(count >= 9689 && count <= 10313, "\(count) random requests on the candidate")
    }

    @Test("A/B arms are cumulative ranges at their weights") func abRanges() throws {
        let m = manager()
        _ = try m.execute(
            model: "churn",
            .start(
                RolloutSpec(
                    strategy: .abTest,
                    arms: [
                        ABArm(name: "a", version: "1", weight: 20), ABArm(name: "b", version: "2", weight: 30),
                        ABArm(name: "c", version: "3", weight: 50),
                    ])))
        var counts: [String: Int] = [:]
        for i in 0..<100_000 {
            let a = try #require(m.assign(model: "churn", routingKey: "k\(i)"))
            counts[a.variantName, default: 0] += 1
        }
        // 99.9% binomial bounds (scipy binom.ppf): 20% [19585, 20417], 30% [29524, 30477], 50% [49480, 50520].
        #expect((19585...20417).contains(counts["a"] ?? 0))
        #expect((29524...30477).contains(counts["b"] ?? 0))
        #expect((49480...50520).contains(counts["c"] ?? 0))
        #expect(m.trafficShare(model: "churn", version: 3) == 0.5)
    }

    @Test("a shadow is reported with every assignment, never answers, and agreement is with the baseline")
    func shadow() throws {
        let m = manager()
        _ = try m.execute(model: "churn", canary(shadow: "3"))
        var onBaseline = 0
        var agreedWithBaseline = 0
        for i in 0..<1000 {
            let a = try #require(m.assign(model: "churn", routingKey: "k\(i)"))
            #expect(a.version != 3)
            #expect(a.shadowVersion == 3)
            // The shadow agrees with the baseline 3 times in 4, never with the candidate.
            let agreed = a.variantName == "baseline" && i % 4 != 0
            if a.variantName == "baseline" {
                onBaseline += 1
                if agreed { agreedWithBaseline += 1 }
            }
            m.recordShadow(a, outcome: Outcome(ok: true, latencyNs: 1_000_000), agreed: agreed)
        }
        let status = m.status(model: "churn")
        let shadow = try #require(status.variants.first(where: { $0.isShadow }))
        #expect(shadow.version == 3 && shadow.weight == 0)
        #expect(shadow.overall.requests == 1000)
        #expect(shadow.agreementRate == Double(agreedWithBaseline) / Double(onBaseline))
    }

    @Test("statistics per variant: counts, error rate, latency quantiles, confidence, positive rate") func stats()
        throws
    {
        let m = manager()
        _ = try m.execute(
            model: "churn",
            .start(
                RolloutSpec(
                    strategy: .abTest,
                    arms: [
                        ABArm(name: "a", version: "1", weight: 50), ABArm(name: "b", version: "2", weight: 50),
                    ])))
        var armA: Assignment?
        var i = 0
        while armA == nil {
            if let a = m.assign(model: "churn", routingKey: "k\(i)"), a.variantName == "a" { armA = a }
            i += 1
        }
        let a = try #require(armA)
        for j in 1...100 {
            // Latencies 1…100 ms; every 10th call fails.
            m.record(
                a,
                outcome: Outcome(
                    ok: j % 10 != 0, latencyNs: UInt64(j) * 1_000_000, confidence: 0.8,
                    positive: j % 3 == 0, score: 0.5))
        }
        let s = m.status(model: "churn").variants[0].overall
        #expect(s.requests == 100 && s.errors == 10)
        #expect(s.errorRate == 0.1)
        // Log buckets are 1/16 of an octave wide: quantiles within ±3.2%.
        #expect(abs(s.p50Ms - 50) / 50 < 0.035, "p50 \(s.p50Ms)")
        #expect(abs(s.p95Ms - 95) / 95 < 0.035, "p95 \(s.p95Ms)")
        #expect(abs(s.p99Ms - 99) / 99 < 0.035, "p99 \(s.p99Ms)")
        #expect(abs(s.meanConfidence - 0.8) < 1e-12)
        // 90 successful calls; multiples of 3 among them: 33 − 3 (30, 60, 90 failed) = 30.
        #expect(abs(s.positiveRate - 30.0 / 90.0) < 1e-12)
    }
}
