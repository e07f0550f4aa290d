import Testing

@testable import TrafficRouting

// Reference values from scipy 1.17.1, made in the test setup with /tmp/venvprobe/bin/python:
//   positive rate: x1,n1,x2,n2 = 600,5000,700,5000; p=(x1+x2)/(n1+n2)
//     z=(x2/n2-x1/n1)/sqrt(p*(1-p)*(1/n1+1/n2)); 2*stats.norm.sf(abs(z))           → 0.002944194493609887
//     p1=0.12; p2=0.14; pb=0.13
//     (norm.ppf(0.975)*sqrt(2*pb*(1-pb)) + norm.ppf(0.8)*sqrt(p1*(1-p1)+p2*(1-p2)))**2/0.02**2
//                                                                                 → 4437.362370579443
//   mean score: a=[((i*7919)%1000)/1000.0*0.5+0.25 for i in range(3000)]
//               b=[((i*104729)%997)/997.0*0.6+0.21 for i in range(2500)]
//     stats.ttest_ind(b, a, equal_var=False).pvalue                                → 0.040000827060800534
//     v=(var(a,ddof=1)+var(b,ddof=1))/2; 2*v*(norm.ppf(0.975)+norm.ppf(0.8))**2/0.01**2 → 3995.6178282215787
@Suite("A/B tests")
struct ABTestTests {
    let registry = FakeRegistry()
    let clock = ManualClock()

    /// One assignment per arm name, found by trying keys.
    func assignments(_ m: RolloutManager) throws -> [String: Assignment] {
        var found: [String: Assignment] = [:]
        var i = 0
        while found.count < 2, i < 10_000 {
            if let a = m.assign(model: "churn", routingKey: "key-\(i)") { found[a.variantName] = a }
            i += 1
        }
        try #require(found.count == 2)
        return found
    }

    func start(_ m: RolloutManager, metric: ABMetric, effect: Double) throws {
        _ = try m.execute(
            model: "churn",
            .start(
                RolloutSpec(
                    strategy: .abTest,
                    arms: [
                        ABArm(name: "control", version: "1", weight: 50),
                        ABArm(name: "treatment", version: "2", weight: 50),
                    ],
                    metric: metric, minDetectableEffect: effect, significance: 0.05)))
    }

    @Test("positive rates 12% vs 14%: p-value and sample size agree with scipy to 1e-6") func positiveRate() throws {
        let m = RolloutManager(directory: nil, registry: registry, clock: clock)
        try start(m, metric: .positiveRate, effect: 0.02)
        let arms = try assignments(m)
        let control = try #require(arms["control"])
        let treatment = try #require(arms["treatment"])
        for i in 0..<5000 {
            m.record(control, outcome: Outcome(ok: true, latencyNs: 1000, positive: i % 25 < 3))  // 12%
            m.record(treatment, outcome: Outcome(ok: true, latencyNs: 1000, positive: i % 50 < 7))  // 14%
        }
        let ab = try #require(m.status(model: "churn").ab)
        #expect(ab.metric == .positiveRate)
        #expect(abs(ab.pValue - 0.002944194493609887) < 1e-6)
        #expect(abs(ab.requiredSampleSizeExact - 4437.362370579443) < 1e-6)
        #expect(ab.requiredSampleSize == 4438)
        #expect(ab.sampleSizeReached)
        #expect(ab.significant)
    }

    @Test("mean scores: Welch's p-value and sample size agree with scipy to 1e-6") func meanScore() throws {
        let m = RolloutManager(directory: nil, registry: registry, clock: clock)
        try start(m, metric: .meanScore, effect: 0.01)
        let arms = try assignments(m)
        let control = try #require(arms["control"])
        let treatment = try #require(arms["treatment"])
        for i in 0..<3000 {
            let score = Double((i * 7919) % 1000) / 1000.0 * 0.5 + 0.25
            m.record(control, outcome: Outcome(ok: true, latencyNs: 1000, score: score))
        }
        for i in 0..<2500 {
            let score = Double((i * 104_729) % 997) / 997.0 * 0.6 + 0.21
            m.record(treatment, outcome: Outcome(ok: true, latencyNs: 1000, score: score))
        }
        let ab = try #require(m.status(model: "churn").ab)
        #expect(abs(ab.pValue - 0.040000827060800534) < 1e-6)
        #expect(abs(ab.requiredSampleSizeExact - 3995.6178282215787) < 1e-6)
        #expect(ab.requiredSampleSize == 3996)
        #expect(!ab.sampleSizeReached)  // 2,500 < 3,996
        #expect(ab.significant)
    }

    @Test("no data: p-value 1, nothing reached") func empty() throws {
        let m = RolloutManager(directory: nil, registry: registry, clock: clock)
        try start(m, metric: .errorRate, effect: 0.01)
        let ab = try #require(m.status(model: "churn").ab)
        #expect(ab.pValue == 1 && !ab.significant && !ab.sampleSizeReached && ab.requiredSampleSize == 0)
    }

    @Test("PROMOTE of a two-arm test makes the treatment Production") func promote() throws {
        let m = RolloutManager(directory: nil, registry: registry, clock: clock)
        try start(m, metric: .positiveRate, effect: 0.02)
        let status = try m.execute(model: "churn", .promote(arm: nil))
        #expect(status.state == .promoted)
        #expect(registry.productionVersion(model: "churn") == 2)
        #expect(m.assign(model: "churn", routingKey: "k") == nil)
    }

    @Test("PROMOTE of the control arm completes the test") func keepControl() throws {
        let m = RolloutManager(directory: nil, registry: registry, clock: clock)
        try start(m, metric: .positiveRate, effect: 0.02)
        let status = try m.execute(model: "churn", .promote(arm: "control"))
        #expect(status.state == .completed)
        #expect(registry.productionVersion(model: "churn") == 1)
        #expect(m.assign(model: "churn", routingKey: "k") == nil)
    }

    // Three arms, scipy: min(zt(600,5000,700,5000), zt(600,5000,650,5000))*2 → 0.005888388987219774;
    // sample size at α/2 = 0.025: nprop(0.12, 0.02, 0.025) → 5373.800701612512.
    @Test("three arms: Bonferroni-adjusted p-value and sample size") func threeArms() throws {
        let m = RolloutManager(directory: nil, registry: registry, clock: clock)
        _ = try m.execute(
            model: "churn",
            .start(
                RolloutSpec(
                    strategy: .abTest,
                    arms: [
                        ABArm(name: "a", version: "1", weight: 34), ABArm(name: "b", version: "2", weight: 33),
                        ABArm(name: "c", version: "3", weight: 33),
                    ], metric: .positiveRate, minDetectableEffect: 0.02, significance: 0.05)))
        var arms: [String: Assignment] = [:]
        var i = 0
        while arms.count < 3 {
            if let a = m.assign(model: "churn", routingKey: "key-\(i)") { arms[a.variantName] = a }
            i += 1
        }
        for j in 0..<5000 {
            m.record(try #require(arms["a"]), outcome: Outcome(ok: true, latencyNs: 1, positive: j % 25 < 3))
            m.record(try #require(arms["b"]), outcome: Outcome(ok: true, latencyNs: 1, positive: j % 50 < 7))
            m.record(try #require(arms["c"]), outcome: Outcome(ok: true, latencyNs: 1, positive: j % 100 < 13))
        }
        let ab = try #require(m.status(model: "churn").ab)
        #expect(abs(ab.pValue - 0.005888388987219774) < 1e-6)
        #expect(abs(ab.requiredSampleSizeExact - 5373.800701612512) < 1e-6)
    }

    // Error rate, scipy: zt(50,4000,80,4000) → 0.007982325907792714; nprop(50/4000, 0.005, 0.05) → 9276.1968219563.
    // Latency, scipy: a=[1+(i%100)/100 for i in range(2000)], b=[1.02+(i%90)/100 for i in range(2000)] (ms);
    //   stats.ttest_ind(b, a, equal_var=False).pvalue → 0.00012022127093413224.
    @Test("error-rate and latency tests") func errorRateAndLatency() throws {
        let m = RolloutManager(directory: nil, registry: registry, clock: clock)
        try start(m, metric: .errorRate, effect: 0.005)
        var arms = try assignments(m)
        for i in 0..<4000 {
            m.record(try #require(arms["control"]), outcome: Outcome(ok: i % 80 != 0, latencyNs: 1))
            m.record(try #require(arms["treatment"]), outcome: Outcome(ok: i % 50 != 0, latencyNs: 1))
        }
        var ab = try #require(m.status(model: "churn").ab)
        #expect(abs(ab.pValue - 0.007982325907792714) < 1e-6)
        #expect(abs(ab.requiredSampleSizeExact - 9276.1968219563) < 1e-6)
        _ = try m.execute(model: "churn", .rollback(archiveCandidate: false))

        try start(m, metric: .latency, effect: 0.05)
        arms = try assignments(m)
        for i in 0..<2000 {
            let control = UInt64(1_000_000 + (i % 100) * 10_000)
            let treatment = UInt64(1_020_000 + (i % 90) * 10_000)
            m.record(try #require(arms["control"]), outcome: Outcome(ok: true, latencyNs: control))
            m.record(try #require(arms["treatment"]), outcome: Outcome(ok: true, latencyNs: treatment))
        }
        ab = try #require(m.status(model: "churn").ab)
        #expect(abs(ab.pValue - 0.00012022127093413224) < 1e-6)
        #expect(ab.significant)
    }

    @Test("an assignment from an ended rollout is not counted in the next one") func staleAssignment() throws {
        let m = RolloutManager(directory: nil, registry: registry, clock: clock)
        try start(m, metric: .positiveRate, effect: 0.02)
        let old = try #require(m.assign(model: "churn", routingKey: "k"))
        _ = try m.execute(model: "churn", .rollback(archiveCandidate: false))
        try start(m, metric: .positiveRate, effect: 0.02)
        m.record(old, outcome: Outcome(ok: true, latencyNs: 1, positive: true))
        #expect(m.status(model: "churn").variants.allSatisfy { $0.overall.requests == 0 })
    }
}
