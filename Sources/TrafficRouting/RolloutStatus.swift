/// The answer to every `Rollout` command; maps 1:1 onto `RolloutResponse` in `proto/sluice/v1/inference.proto`.
public struct RolloutStatus: Sendable, Hashable {
    public var model: String
    /// "" when the model never had a rollout.
    public var rolloutID: String
    public var state: RolloutState
    public var strategy: RolloutStrategy?
    public var variants: [VariantStatus]
    /// Zero-based index of the current canary step.
    public var stepIndex: Int
    public var steps: [CanaryStep]
    public var lastDecision: String
    public var history: [RolloutTransition]
    /// A/B tests only.
    public var ab: ABResult?
    public var auto: Bool

    /// The status of a model without any rollout.
    public static func none(model: String) -> RolloutStatus {
        RolloutStatus(
            model: model, rolloutID: "", state: .none, strategy: nil, variants: [], stepIndex: 0, steps: [],
            lastDecision: "", history: [], ab: nil, auto: false)
    }
}

/// One variant in the status (`VariantStatus` in the proto).
public struct VariantStatus: Sendable, Hashable {
    public var name: String
    public var version: Int64
    /// Current traffic weight in percent.
    public var weight: Double
    /// Statistics over the current step (the whole test for A/B).
    public var step: VariantStats
    public var overall: VariantStats
    public var isShadow: Bool
    /// Shadow only: share of the requests answered by the baseline where the shadow gave the same answer.
    public var agreementRate: Double
}

/// The A/B test's verdict (`ABResult` in the proto), over the whole test.
public struct ABResult: Sendable, Hashable {
    public var metric: ABMetric
    /// Two-sided p-value (control vs the other arm; with more arms, the smallest p-value × (arms − 1), Bonferroni,
    /// capped at 1). 1 when there is not enough data to test.
    public var pValue: Double
    /// Per-arm sample size for the minimum detectable effect at power 0.8 and the significance level, ⌈n⌉;
    /// 0 when it cannot be computed yet (no effect given, no data).
    public var requiredSampleSize: UInt64
    /// The same, unrounded (for comparisons with a reference computation).
    public var requiredSampleSizeExact: Double
    /// Every arm has at least `requiredSampleSize` observations of the metric.
    public var sampleSizeReached: Bool
    /// pValue < significance.
    public var significant: Bool
}

extension RolloutData {
    func status(now: Int64) -> RolloutStatus {
        let variantStatuses = variants.enumerated().map { i, v in
            let overall = overallStats[i]
            return VariantStatus(
                name: v.name, version: v.version, weight: Double(v.weightBP) / 100,
                step: stepStats[i].summary, overall: overall.summary, isShadow: v.isShadow,
                agreementRate: overall.shadowCompared > 0
                    ? Double(overall.shadowAgreed) / Double(overall.shadowCompared) : 0)
        }
        return RolloutStatus(
            model: model, rolloutID: id, state: state, strategy: strategy, variants: variantStatuses,
            stepIndex: stepIndex, steps: steps, lastDecision: lastDecision, history: history,
            ab: strategy == .abTest ? abResult() : nil, auto: auto)
    }

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
