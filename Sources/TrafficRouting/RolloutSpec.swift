/// How traffic is split.
public enum RolloutStrategy: String, Codable, Sendable, Hashable {
    /// A baseline and a candidate; the candidate's share grows step by step.
    case canary
    /// Two or more arms at fixed weights, compared by a significance test.
    case abTest
}

/// Where a rollout is in its life. Raw values are the proto enum names (`RUNNING`, `ROLLED_BACK`, …), used in
/// history entries (`Transition.from_state` / `to_state`) and in `rollout.json`.
public enum RolloutState: String, Codable, Sendable, Hashable {
    /// No rollout was ever started for the model.
    case none = "NONE"
    case running = "RUNNING"
    /// Weights frozen, no automatic decisions; traffic is still split.
    case paused = "PAUSED"
    /// All traffic back on the baseline.
    case rolledBack = "ROLLED_BACK"
    /// The candidate became `Production`.
    case promoted = "PROMOTED"
    /// Ended without a change of `Production` (an A/B test whose control arm was kept).
    case completed = "COMPLETED"

    /// Whether the rollout still splits traffic and accepts steering commands.
    public var isActive: Bool { self == .running || self == .paused }

    /// The proto enum name (same as `rawValue`).
    public var protoName: String { rawValue }
}

/// The metric an A/B test compares.
public enum ABMetric: String, Codable, Sendable, Hashable {
    /// Share of successful predictions whose label is the positive class (two-proportion z-test).
    case positiveRate
    /// Mean score of successful predictions (Welch's t-test).
    case meanScore
    /// Share of failed calls (two-proportion z-test).
    case errorRate
    /// Mean latency in milliseconds (Welch's t-test).
    case latency
}

/// One canary step.
public struct CanaryStep: Codable, Sendable, Hashable {
    /// Candidate traffic in percent, (0, 100].
    public var percent: Double
    /// Candidate requests needed in this step before it may advance.
    public var minRequests: UInt64
    /// Time the step must last before it may advance, in milliseconds.
    public var minDurationMs: UInt64

    public init(percent: Double, minRequests: UInt64 = 0, minDurationMs: UInt64 = 0) {
        self.percent = percent
        self.minRequests = minRequests
        self.minDurationMs = minDurationMs
    }

    /// The default ladder: 1, 5, 25, 50, 100 percent (100 requests, no minimum duration).
    public static let defaultSteps: [CanaryStep] = [1, 5, 25, 50, 100].map {
        CanaryStep(percent: $0, minRequests: 100, minDurationMs: 0)
    }
}

/// Limits a canary candidate must stay within. A limit of 0 means "no limit".
public struct Guardrails: Codable, Sendable, Hashable {
    /// Maximum candidate error rate, 0…1.
    public var maxErrorRate: Double
    /// Maximum candidate error rate minus baseline error rate, 0…1.
    public var maxErrorRateIncrease: Double
    /// Maximum candidate p99 latency in milliseconds.
    public var maxP99Ms: Double
    /// Maximum candidate p99 divided by baseline p99.
    public var maxP99Ratio: Double
    /// Candidate requests in the step before any guardrail is judged, so one slow or failed call does not roll
    /// back. The effective minimum is `min(minSampleRequests, step.minRequests)` when the step has a minimum, so
    /// a breach is always caught within the step's minimum requests. (Not in the proto yet: default 50.)
    public var minSampleRequests: UInt64

    public init(
        maxErrorRate: Double = 0, maxErrorRateIncrease: Double = 0, maxP99Ms: Double = 0, maxP99Ratio: Double = 0,
        minSampleRequests: UInt64 = 50
    ) {
        self.maxErrorRate = maxErrorRate
        self.maxErrorRateIncrease = maxErrorRateIncrease
        self.maxP99Ms = maxP99Ms
        self.maxP99Ratio = maxP99Ratio
        self.minSampleRequests = minSampleRequests
    }
}

/// One arm of an A/B test.
public struct ABArm: Codable, Sendable, Hashable {
    /// Variant name reported in responses ("" → `arm0`, `arm1`, …).
    public var name: String
    /// Version selector, resolved by the registry.
    public var version: String
    /// Traffic weight in percent; the weights of all arms sum to 100.
    public var weight: Double

    public init(name: String, version: String, weight: Double) {
        self.name = name
        self.version = version
        self.weight = weight
    }
}

/// The parameters of `START`, as the `RolloutRequest` carries them (selectors unresolved).
public struct RolloutSpec: Sendable, Hashable {
    public var strategy: RolloutStrategy
    /// Canary baseline selector; "" → the current `Production` version.
    public var baseline: String
    /// Canary candidate selector.
    public var candidate: String
    /// Canary steps; empty → ``CanaryStep/defaultSteps``.
    public var steps: [CanaryStep]
    public var guardrails: Guardrails
    /// Advance, promote and roll back automatically.
    public var auto: Bool
    /// A/B arms (at least two). The first arm is the control the others are compared with.
    public var arms: [ABArm]
    public var metric: ABMetric
    /// Absolute effect the A/B test should detect (rate points for rates, score units, milliseconds).
    public var minDetectableEffect: Double
    /// Significance level α of the A/B test; 0 → 0.05.
    public var significance: Double
    /// Shadow version selector ("" → none): receives a copy of the traffic, never answers.
    public var shadow: String

    public init(
        strategy: RolloutStrategy, baseline: String = "", candidate: String = "", steps: [CanaryStep] = [],
        guardrails: Guardrails = Guardrails(), auto: Bool = false, arms: [ABArm] = [],
        metric: ABMetric = .positiveRate, minDetectableEffect: Double = 0, significance: Double = 0,
        shadow: String = ""
    ) {
        self.strategy = strategy
        self.baseline = baseline
        self.candidate = candidate
        self.steps = steps
        self.guardrails = guardrails
        self.auto = auto
        self.arms = arms
        self.metric = metric
        self.minDetectableEffect = minDetectableEffect
        self.significance = significance
        self.shadow = shadow
    }
}

/// A command of the `Rollout` RPC.
public enum RolloutCommand: Sendable, Hashable {
    case get
    case start(RolloutSpec)
    case pause
    case resume
    /// Move to the next canary step now.
    case advance
    /// New weights in percent by variant name (they must sum to 100; the shadow takes none).
    case setWeights([String: Double])
    /// All traffic back to the baseline (the first arm of an A/B test).
    case rollback(archiveCandidate: Bool)
    /// Canary: the candidate becomes `Production`. A/B: the arm named `arm` (default: the second arm of a
    /// two-arm test) becomes `Production`; choosing the control arm ends the test as `completed`.
    case promote(arm: String?)
}
