internal import CProtobufC
internal import CSluiceProto
internal import CSluiceProtoSupport
public import GRPCCore

/// `sluice.v1.CanaryStep`.
public struct CanaryStepMessage: Sendable, Equatable {
    public var percent: Double
    public var minRequests: UInt64
    public var minDurationMs: UInt64

    public init(percent: Double, minRequests: UInt64, minDurationMs: UInt64) {
        self.percent = percent
        self.minRequests = minRequests
        self.minDurationMs = minDurationMs
    }
}

/// `sluice.v1.RolloutRequest`, decoded into Swift values (not a hot path).
public struct RolloutRequestMessage: Sendable, Equatable {
    /// Wire values of `sluice.v1.RolloutAction`.
    public enum Action: UInt32, Sendable {
        case unspecified = 0, get, start, pause, resume, advance, setWeights, rollback, promote
    }

    public var model = ""
    public var action = Action.unspecified
    /// 0 unspecified, 1 canary, 2 A/B test.
    public var strategy: UInt32 = 0
    public var baseline = ""
    public var candidate = ""
    public var steps: [CanaryStepMessage] = []
    /// Present when the client set guardrails.
    public var guardrails: (maxErrorRate: Double, maxErrorRateIncrease: Double, maxP99Ms: Double, maxP99Ratio: Double)?
    public var auto = false
    public var arms: [(name: String, version: String, weight: Double)] = []
    /// 0 unspecified, 1 positive rate, 2 mean score, 3 error rate, 4 latency.
    public var metric: UInt32 = 0
    public var minDetectableEffect = 0.0
    public var significance = 0.0
    public var shadow = ""
    public var weights: [(name: String, weight: Double)] = []
    public var archiveCandidate = false
    public var promoteArm = ""
    public var minSampleRequests: UInt64 = 0

    public init() {}

    public init(decoding bytes: UnsafeRawBufferPointer) throws {
        self = try withArenaDecoded(
            bytes, messageType: "sluice.v1.RolloutRequest",
            unpack: { sluice__v1__rollout_request__unpack($0, $1, $2) }
        ) { pointer in
            let m = pointer.pointee
            var out = RolloutRequestMessage()
            out.model = cString(m.model)
            out.action = Action(rawValue: m.action.rawValue) ?? .unspecified
            out.strategy = m.strategy.rawValue
            out.baseline = cString(m.baseline)
            out.candidate = cString(m.candidate)
            for index in 0..<m.n_steps {
                guard let step = m.steps[index]?.pointee else { continue }
                out.steps.append(CanaryStepMessage(
                    percent: step.percent, minRequests: step.min_requests, minDurationMs: step.min_duration_ms))
            }
            if let g = m.guardrails?.pointee {
                out.guardrails = (g.max_error_rate, g.max_error_rate_increase, g.max_p99_ms, g.max_p99_ratio)
            }
            out.auto = m.auto_ != 0
            for index in 0..<m.n_arms {
                guard let arm = m.arms[index]?.pointee else { continue }
                out.arms.append((cString(arm.name), cString(arm.version), arm.weight))
            }
            out.metric = m.metric.rawValue
            out.minDetectableEffect = m.min_detectable_effect
            out.significance = m.significance
            out.shadow = cString(m.shadow)
            for index in 0..<m.n_weights {
                guard let entry = m.weights[index]?.pointee else { continue }
                out.weights.append((cString(entry.key), entry.value))
            }
            out.archiveCandidate = m.archive_candidate != 0
            out.promoteArm = cString(m.promote_arm)
            out.minSampleRequests = m.min_sample_requests
            return out
        }
    }

    public static func == (lhs: RolloutRequestMessage, rhs: RolloutRequestMessage) -> Bool {
        lhs.model == rhs.model && lhs.action == rhs.action && lhs.strategy == rhs.strategy
            && lhs.baseline == rhs.baseline && lhs.candidate == rhs.candidate && lhs.steps == rhs.steps
            && lhs.auto == rhs.auto && lhs.metric == rhs.metric && lhs.shadow == rhs.shadow
            && lhs.arms.map(\.name) == rhs.arms.map(\.name) && lhs.weights.map(\.name) == rhs.weights.map(\.name)
    }
}

/// `sluice.v1.VariantStats`.
public struct VariantStatsMessage: Sendable, Equatable {
    public var requests: UInt64 = 0
    public var errors: UInt64 = 0
    public var errorRate = 0.0
    public var p50Ms = 0.0
    public var p95Ms = 0.0
    public var p99Ms = 0.0
    public var meanConfidence = 0.0
    public var positiveRate = 0.0
    public var meanScore = 0.0

    public init() {}
}

/// `sluice.v1.VariantStatus`.
public struct VariantStatusMessage: Sendable, Equatable {
    public var name = ""
    public var version: Int64 = 0
    public var weight = 0.0
    public var step = VariantStatsMessage()
    public var overall = VariantStatsMessage()
    public var shadow = false
    public var agreementRate = 0.0

    public init() {}
}

/// `sluice.v1.RolloutResponse`.
public struct RolloutResponseMessage: Sendable, Equatable {
    public var model = ""
    public var rolloutID = ""
    /// Wire value of `sluice.v1.RolloutState` (0 none, 1 running, 2 paused, 3 rolled back, 4 promoted, 5 completed).
    public var state: UInt32 = 0
    /// Wire value of `sluice.v1.RolloutStrategy`.
    public var strategy: UInt32 = 0
    public var variants: [VariantStatusMessage] = []
    public var stepIndex: UInt32 = 0
    public var steps: [CanaryStepMessage] = []
    public var lastDecision = ""
    public var history: [(unixMs: Int64, from: String, to: String, reason: String)] = []
    /// A/B result: (metric, p-value, required sample size, reached, significant).
    public var ab: (
        metric: UInt32, pValue: Double, requiredSampleSize: UInt64, requiredSampleSizeExact: Double, reached: Bool,
        significant: Bool
    )?
    public var auto = false

    public init() {}

    public static func == (lhs: RolloutResponseMessage, rhs: RolloutResponseMessage) -> Bool {
        lhs.model == rhs.model && lhs.rolloutID == rhs.rolloutID && lhs.state == rhs.state
            && lhs.variants == rhs.variants && lhs.stepIndex == rhs.stepIndex && lhs.lastDecision == rhs.lastDecision
            && lhs.history.count == rhs.history.count
    }

    public func encode(into buffer: inout ResponseBuffer) {
        withArenaScope { arena in
            var m = Sluice__V1__RolloutResponse()
            sluice__v1__rollout_response__init(&m)
            m.model = arena.string(model)
            m.rollout_id = arena.string(rolloutID)
            m.state = Sluice__V1__RolloutState(rawValue: state)
            m.strategy = Sluice__V1__RolloutStrategy(rawValue: strategy)
            m.step_index = stepIndex
            m.last_decision = arena.string(lastDecision)
            m.auto_ = auto ? 1 : 0
            let variantsOut = arena.allocate(UnsafeMutablePointer<Sluice__V1__VariantStatus>?.self, count: variants.count)
            for (index, variant) in variants.enumerated() {
                let v = arena.allocate(Sluice__V1__VariantStatus.self, count: 1)
                sluice__v1__variant_status__init(v)
                v.pointee.name = arena.string(variant.name)
                v.pointee.version = variant.version
                v.pointee.weight = variant.weight
                v.pointee.step = Self.stats(variant.step, arena)
                v.pointee.overall = Self.stats(variant.overall, arena)
                v.pointee.shadow = variant.shadow ? 1 : 0
                v.pointee.agreement_rate = variant.agreementRate
                variantsOut[index] = v
            }
            m.n_variants = variants.count
            m.variants = variantsOut
            let stepsOut = arena.allocate(UnsafeMutablePointer<Sluice__V1__CanaryStep>?.self, count: steps.count)
            for (index, step) in steps.enumerated() {
                let s = arena.allocate(Sluice__V1__CanaryStep.self, count: 1)
                sluice__v1__canary_step__init(s)
                s.pointee.percent = step.percent
                s.pointee.min_requests = step.minRequests
                s.pointee.min_duration_ms = step.minDurationMs
                stepsOut[index] = s
            }
            m.n_steps = steps.count
            m.steps = stepsOut
            let historyOut = arena.allocate(UnsafeMutablePointer<Sluice__V1__Transition>?.self, count: history.count)
            for (index, entry) in history.enumerated() {
                let t = arena.allocate(Sluice__V1__Transition.self, count: 1)
                sluice__v1__transition__init(t)
                t.pointee.unix_ms = entry.unixMs
                t.pointee.from_state = arena.string(entry.from)
                t.pointee.to_state = arena.string(entry.to)
                t.pointee.reason = arena.string(entry.reason)
                historyOut[index] = t
            }
            m.n_history = history.count
            m.history = historyOut
            if let ab {
                let a = arena.allocate(Sluice__V1__ABResult.self, count: 1)
                sluice__v1__abresult__init(a)
                a.pointee.metric = Sluice__V1__ABMetric(rawValue: ab.metric)
                a.pointee.p_value = ab.pValue
                a.pointee.required_sample_size = ab.requiredSampleSize
                a.pointee.required_sample_size_exact = ab.requiredSampleSizeExact
                a.pointee.sample_size_reached = ab.reached ? 1 : 0
                a.pointee.significant = ab.significant ? 1 : 0
                m.ab = a
            }
            let size = sluice__v1__rollout_response__get_packed_size(&m)
            buffer.appendMessage(count: size) { out in
                _ = sluice__v1__rollout_response__pack(&m, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
    }

    private static func stats(_ s: VariantStatsMessage, _ arena: ArenaBuilder) -> UnsafeMutablePointer<Sluice__V1__VariantStats> {
        let out = arena.allocate(Sluice__V1__VariantStats.self, count: 1)
        sluice__v1__variant_stats__init(out)
        out.pointee.requests = s.requests
        out.pointee.errors = s.errors
        out.pointee.error_rate = s.errorRate
        out.pointee.mean_confidence = s.meanConfidence
        out.pointee.positive_rate = s.positiveRate
        out.pointee.mean_score = s.meanScore
        let latency = arena.allocate(Sluice__V1__LatencyStats.self, count: 1)
        sluice__v1__latency_stats__init(latency)
        latency.pointee.p50_ms = s.p50Ms
        latency.pointee.p95_ms = s.p95Ms
        latency.pointee.p99_ms = s.p99Ms
        out.pointee.latency = latency
        return out
    }
}
