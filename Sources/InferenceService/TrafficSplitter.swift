/// Where routed requests (no explicit version) go when a model has an active rollout.
/// Implemented over `TrafficRouting` by the composition root; nil assignments mean "no rollout".
public protocol TrafficSplitter: Sendable {
    /// The variant for this call, or nil when the model has no active rollout.
    func assign(model: String, routingKey: UnsafeRawBufferPointer) -> SplitDecision?
    /// Reports how a routed call went (feeds guardrails and A/B statistics).
    func record(model: String, decision: SplitDecision, outcome: CallOutcome)
    /// Current share of routed traffic per version (0...1) while a rollout is active, else nil.
    func trafficShares(model: String) -> [Int64: Double]?
    /// Reports whether the shadow version agreed with the answer that was served.
    func recordShadow(model: String, decision: SplitDecision, agreed: Bool, outcome: CallOutcome)
}

/// A routing decision.
public struct SplitDecision: Sendable {
    public var variantIndex: Int
    public var variant: String
    public var version: Int64
    /// A version that also gets a copy of this call; its answer is compared, never returned.
    public var shadowVersion: Int64?
    /// Opaque state the splitter wants back in `record` (e.g. the rollout generation).
    public var token: UInt64

    public init(variantIndex: Int, variant: String, version: Int64, shadowVersion: Int64? = nil, token: UInt64 = 0) {
        self.variantIndex = variantIndex
        self.variant = variant
        self.version = version
        self.shadowVersion = shadowVersion
        self.token = token
    }
}

/// What a routed call produced.
public struct CallOutcome: Sendable {
    public var failed: Bool
    public var latencyNanos: UInt64
    public var confidence: Float?
    /// True when the predicted label is the positive class (binary classifiers).
    public var positive: Bool?
    /// The positive-class score (binary) or regression value.
    public var score: Double?

    public init(failed: Bool, latencyNanos: UInt64, confidence: Float? = nil, positive: Bool? = nil, score: Double? = nil) {
        self.failed = failed
        self.latencyNanos = latencyNanos
        self.confidence = confidence
        self.positive = positive
        self.score = score
    }
}
