extension RolloutData {
    /// The A/B test over the overall statistics of the non-shadow arms, arm 0 being the control.
    func abResult() -> ABResult {
        let arms = variants.indices.filter { !variants[$0].isShadow }
        let comparisons = max(arms.count - 1, 1)
        let alpha = significance
        let adjustedAlpha = alpha / Double(comparisons)
        var minP = 1.0
        var required: Double? = nil
        guard let control = arms.first else {
            return ABResult(
                metric: metric, pValue: 1, requiredSampleSize: 0, requiredSampleSizeExact: 0,
                sampleSizeReached: false, significant: false)
        }
        let c = overallStats[control]
        for arm in arms.dropFirst() {
            let t = overallStats[arm]
            let test: HypothesisTests.Result?
            let n: Double?
            switch metric {
            case .positiveRate, .errorRate:
                let (x1, n1) = Self.proportion(c, metric)
                let (x2, n2) = Self.proportion(t, metric)
                test = HypothesisTests.twoProportionZTest(successes1: x1, trials1: n1, successes2: x2, trials2: n2)
                n =
                    n1 > 0
                    ? HypothesisTests.sampleSizeForProportions(
                        baselineRate: x1 / n1, effect: minDetectableEffect, alpha: adjustedAlpha) : nil
            case .meanScore, .latency:
                let m1 = metric == .meanScore ? c.score : c.latencyMs
                let m2 = metric == .meanScore ? t.score : t.latencyMs
                test = HypothesisTests.welchTTest(
                    mean1: m1.mean, variance1: m1.variance, count1: Double(m1.count),
                    mean2: m2.mean, variance2: m2.variance, count2: Double(m2.count))
                n =
                    m1.count >= 2 && m2.count >= 2
                    ? HypothesisTests.sampleSizeForMeans(
                        variance: (m1.variance + m2.variance) / 2, effect: minDetectableEffect, alpha: adjustedAlpha)
                    : nil
            }
            if let p = test?.pValue, !p.isNaN { minP = min(minP, p) }
            if let n { required = max(required ?? 0, n) }
        }
        let pValue = min(1, minP * Double(comparisons))
        let exact = required ?? 0
        let rounded = exact.isFinite && exact < 1.8e19 ? UInt64(exact.rounded(.up)) : UInt64.max
        let reached = required != nil && arms.allSatisfy { Self.observations(overallStats[$0], metric) >= rounded }
        return ABResult(
            metric: metric, pValue: pValue, requiredSampleSize: rounded, requiredSampleSizeExact: exact,
            sampleSizeReached: reached, significant: pValue < alpha)
    }

    /// (successes, trials) of a rate metric.
    static func proportion(_ s: VariantAccumulator, _ metric: ABMetric) -> (Double, Double) {
        metric == .errorRate
            ? (Double(s.errors), Double(s.requests)) : (Double(s.positives), Double(s.positiveObserved))
    }

    /// How many observations of `metric` an arm has.
    static func observations(_ s: VariantAccumulator, _ metric: ABMetric) -> UInt64 {
        switch metric {
        case .positiveRate: s.positiveObserved
        case .errorRate: s.requests
        case .meanScore: s.score.count
        case .latency: s.latencyMs.count
        }
    }
}
