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
    /// The generation of the shared rollout state this answer reflects.
    public var generation: UInt64 = 0
    /// The replica that answered.
    public var replicaID = ""
    /// Each replica's requests and errors per variant, and when it last wrote them.
    public var replicas: [(replicaID: String, requests: [UInt64], errors: [UInt64], updatedUnixMs: Int64)] = []

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
            m.generation = generation
            m.replica_id = arena.string(replicaID)
            let replicasOut = arena.allocate(
                UnsafeMutablePointer<Sluice__V1__ReplicaShare>?.self, count: replicas.count)
            for (index, replica) in replicas.enumerated() {
                let r = arena.allocate(Sluice__V1__ReplicaShare.self, count: 1)
                sluice__v1__replica_share__init(r)
                r.pointee.replica_id = arena.string(replica.replicaID)
                let requests = arena.allocate(UInt64.self, count: replica.requests.count)
                for (i, value) in replica.requests.enumerated() { requests[i] = value }
                r.pointee.n_requests = replica.requests.count
                r.pointee.requests = requests
                let errors = arena.allocate(UInt64.self, count: replica.errors.count)
                for (i, value) in replica.errors.enumerated() { errors[i] = value }
                r.pointee.n_errors = replica.errors.count
                r.pointee.errors = errors
                r.pointee.updated_unix_ms = replica.updatedUnixMs
                replicasOut[index] = r
            }
            m.n_replicas = replicas.count
            m.replicas = replicasOut
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

// MARK: - The client side (`sluice rollout`)

extension RolloutRequestMessage {
    /// The serialized `sluice.v1.RolloutRequest`.
    public func encoded() -> [UInt8] {
        withArenaScope { arena in
            var m = Sluice__V1__RolloutRequest()
            sluice__v1__rollout_request__init(&m)
            m.model = arena.string(model)
            m.action = Sluice__V1__RolloutAction(rawValue: action.rawValue)
            m.strategy = Sluice__V1__RolloutStrategy(rawValue: strategy)
            m.baseline = arena.string(baseline)
            m.candidate = arena.string(candidate)
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
            if let g = guardrails {
                let out = arena.allocate(Sluice__V1__Guardrails.self, count: 1)
                sluice__v1__guardrails__init(out)
                out.pointee.max_error_rate = g.maxErrorRate
                out.pointee.max_error_rate_increase = g.maxErrorRateIncrease
                out.pointee.max_p99_ms = g.maxP99Ms
                out.pointee.max_p99_ratio = g.maxP99Ratio
                m.guardrails = out
            }
            m.auto_ = auto ? 1 : 0
            let armsOut = arena.allocate(UnsafeMutablePointer<Sluice__V1__Arm>?.self, count: arms.count)
            for (index, arm) in arms.enumerated() {
                let a = arena.allocate(Sluice__V1__Arm.self, count: 1)
                sluice__v1__arm__init(a)
                a.pointee.name = arena.string(arm.name)
                a.pointee.version = arena.string(arm.version)
                a.pointee.weight = arm.weight
                armsOut[index] = a
            }
            m.n_arms = arms.count
            m.arms = armsOut
            m.metric = Sluice__V1__ABMetric(rawValue: metric)
            m.min_detectable_effect = minDetectableEffect
            m.significance = significance
            m.shadow = arena.string(shadow)
            let weightsOut = arena.allocate(
                UnsafeMutablePointer<Sluice__V1__RolloutRequest__WeightsEntry>?.self, count: weights.count)
            for (index, entry) in weights.enumerated() {
                let w = arena.allocate(Sluice__V1__RolloutRequest__WeightsEntry.self, count: 1)
                sluice__v1__rollout_request__weights_entry__init(w)
                w.pointee.key = arena.string(entry.name)
                w.pointee.value = entry.weight
                weightsOut[index] = w
            }
            m.n_weights = weights.count
            m.weights = weightsOut
            m.archive_candidate = archiveCandidate ? 1 : 0
            m.promote_arm = arena.string(promoteArm)
            m.min_sample_requests = minSampleRequests
            let size = sluice__v1__rollout_request__get_packed_size(&m)
            var out = [UInt8](repeating: 0, count: size)
            out.withUnsafeMutableBufferPointer { buffer in
                _ = sluice__v1__rollout_request__pack(&m, buffer.baseAddress!)
            }
            return out
        }
    }
}

extension RolloutResponseMessage {
    /// Decodes a serialized `sluice.v1.RolloutResponse` (the client side).
    public init(decoding bytes: UnsafeRawBufferPointer) throws {
        self = try withArenaDecoded(
            bytes, messageType: "sluice.v1.RolloutResponse",
            unpack: { sluice__v1__rollout_response__unpack($0, $1, $2) }
        ) { pointer in
            let m = pointer.pointee
            var out = RolloutResponseMessage()
            out.model = cString(m.model)
            out.rolloutID = cString(m.rollout_id)
            out.state = m.state.rawValue
            out.strategy = m.strategy.rawValue
            for index in 0..<m.n_variants {
                guard let v = m.variants[index]?.pointee else { continue }
                var variant = VariantStatusMessage()
                variant.name = cString(v.name)
                variant.version = v.version
                variant.weight = v.weight
                variant.step = Self.stats(v.step)
                variant.overall = Self.stats(v.overall)
                variant.shadow = v.shadow != 0
                variant.agreementRate = v.agreement_rate
                out.variants.append(variant)
            }
            out.stepIndex = m.step_index
            for index in 0..<m.n_steps {
                guard let step = m.steps[index]?.pointee else { continue }
                out.steps.append(CanaryStepMessage(
                    percent: step.percent, minRequests: step.min_requests, minDurationMs: step.min_duration_ms))
            }
            out.lastDecision = cString(m.last_decision)
            for index in 0..<m.n_history {
                guard let t = m.history[index]?.pointee else { continue }
                out.history.append((t.unix_ms, cString(t.from_state), cString(t.to_state), cString(t.reason)))
            }
            if let a = m.ab?.pointee {
                out.ab = (a.metric.rawValue, a.p_value, a.required_sample_size, a.required_sample_size_exact,
                          a.sample_size_reached != 0, a.significant != 0)
            }
            out.auto = m.auto_ != 0
            out.generation = m.generation
            out.replicaID = cString(m.replica_id)
            for index in 0..<m.n_replicas {
                guard let r = m.replicas[index]?.pointee else { continue }
                out.replicas.append((
                    cString(r.replica_id), (0..<r.n_requests).map { r.requests[$0] },
                    (0..<r.n_errors).map { r.errors[$0] }, r.updated_unix_ms
                ))
            }
            return out
        }
    }

    private static func stats(_ pointer: UnsafeMutablePointer<Sluice__V1__VariantStats>?) -> VariantStatsMessage {
        var out = VariantStatsMessage()
        guard let s = pointer?.pointee else { return out }
        out.requests = s.requests
        out.errors = s.errors
        out.errorRate = s.error_rate
        out.meanConfidence = s.mean_confidence
        out.positiveRate = s.positive_rate
        out.meanScore = s.mean_score
        if let latency = s.latency?.pointee {
            out.p50Ms = latency.p50_ms
            out.p95Ms = latency.p95_ms
            out.p99Ms = latency.p99_ms
        }
        return out
    }
}
