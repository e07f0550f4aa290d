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
    /// The generation of the shared `rollout.json` this status reflects (0 for a rollout kept in memory).
    public var generation: UInt64 = 0
    /// The replica that answered.
    public var replicaID: String = ""
    /// The replicas whose statistics the variants' numbers sum (this one first), when the rollout is shared.
    public var replicas: [ReplicaReport] = []

    /// The status of a model without any rollout.
    public static func none(model: String) -> RolloutStatus {
        RolloutStatus(
            model: model, rolloutID: "", state: .none, strategy: nil, variants: [], stepIndex: 0, steps: [],
            lastDecision: "", history: [], ab: nil, auto: false)
    }
}

/// One replica's share of a shared rollout's traffic, from its statistics file.
public struct ReplicaReport: Sendable, Hashable {
    public var replicaID: String
    /// Requests per variant (in the status's variant order) since START.
    public var requests: [UInt64]
    /// Errors per variant since START.
    public var errors: [UInt64]
    /// When the replica last wrote its statistics (Unix ms).
    public var updatedUnixMs: Int64
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
    func status() -> RolloutStatus {
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
}
