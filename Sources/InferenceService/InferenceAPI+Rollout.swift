import BackgroundThreads
import Auth
import Dispatch
import Glibc
import GRPCCore
import ModelRegistry
import SluiceProto
import TrafficRouting

extension InferenceAPI {
    /// `Rollout`: commands change files and the registry, so they run off the event loop and complete the
    /// call through a promise.
    func rollout(_ request: UnsafeRawBufferPointer, _ context: CallContext, _ response: inout ResponseBuffer)
        -> UnaryOutcome
    {
        guard let rollouts else {
            return .failure(RPCError(.unimplemented, "rollouts need a writable registry (sluice serve --models DIR)"))
        }
        let started = monotonicNanos()
        var record = CallRecord(rpc: .rollout, audited: gate != nil, started: started)
        let message: RolloutRequestMessage
        let command: RolloutCommand
        do {
            do { message = try RolloutRequestMessage(decoding: request) } catch {
                throw admitMalformed(&record, context: context, error)
            }
            try admit(&record, model: message.model, context: context)
            guard !message.model.isEmpty else { throw ServiceError.invalidArgument("model is required") }
            guard registry.snapshot.models[message.model] != nil || message.action == .get else {
                throw ServiceError(.notFound, "model \"\(message.model)\" is not registered")
            }
            command = try Self.command(from: message)
        } catch {
            let status = RPCError.from(error)
            gate?.audit(record, context: context, status: status.code, latencyNanos: monotonicNanos() - started)
            return .failure(status)
        }
        let admitted = record
        let work: @Sendable () -> Result<ResponseBuffer, RPCError> = { [self] in
            let result = execute(message, command, started: started)
            if let gate {
                let code: StatusCode
                if case .failure(let error) = result { code = error.code } else { code = .ok }
                gate.audit(admitted, context: context, status: code, latencyNanos: monotonicNanos() - started)
            }
            return result
        }
        if let promise = context.makePromise() {
            DispatchQueue.global().async {
                switch work() {
                case .success(let buffer): promise.succeed(buffer)
                case .failure(let error): promise.fail(error)
                }
            }
            return .deferred
        }
        switch work() {
        case .success(let buffer):
            response = buffer
            return .ok
        case .failure(let error): return .failure(error)
        }
    }

    /// Runs one rollout command (off the event loop) and encodes the status.
    private func execute(_ message: RolloutRequestMessage, _ command: RolloutCommand, started: UInt64)
        -> Result<ResponseBuffer, RPCError>
    {
        guard let rollouts else { return .failure(RPCError(.unimplemented, "rollouts are not enabled")) }
        do {
            let status = try rollouts.execute(model: message.model, command)
            pinRolloutVersions(status)
            var buffer = ResponseBuffer()
            Self.message(from: status).encode(into: &buffer)
            metrics.record(.rollout, model: message.model, version: 0, variant: "", code: 0,
                           nanos: monotonicNanos() - started)
            return .success(buffer)
        } catch {
            let status = RPCError.from(error)
            metrics.record(.rollout, model: message.model, version: 0, variant: "", code: status.code.rawValue,
                           nanos: monotonicNanos() - started)
            return .failure(status)
        }
    }

    /// Keeps every version a running rollout routes to loaded, and releases them when it ends.
    func pinRolloutVersions(_ status: RolloutStatus) {
        let active = status.state == .running || status.state == .paused
        registry.pin(model: status.model, versions: active ? Set(status.variants.map(\.version)) : [])
        if active {
            // Wait (bounded) until the pinned versions are loaded so the split takes effect at once.
            // (The registry rescans asynchronously after `pin`, so NOT_LOADED only means "not yet".)
            for _ in 0..<500 {
                let entry = registry.snapshot.models[status.model]
                let settled = status.variants.allSatisfy { variant in
                    if entry?.workers[variant.version] != nil { return true }
                    if case .failed? = entry?.states[variant.version] { return true }
                    return false
                }
                if settled { break }
                usleepMillis(10)
            }
        }
    }

    /// Translates the wire request into a controller command. Throws `ServiceError.invalidArgument` for a missing
    /// action, SET_WEIGHTS without weights, START without a known strategy (1 canary, 2 A/B) or an unknown A/B metric;
    /// metric 0 means the default, positive rate. Guardrails not sent keep the controller's defaults.
    static func command(from m: RolloutRequestMessage) throws -> RolloutCommand {
        switch m.action {
        case .unspecified:
            throw ServiceError.invalidArgument("action is required: GET, START, PAUSE, RESUME, ADVANCE, SET_WEIGHTS, ROLLBACK or PROMOTE")
        case .get: return .get
        case .pause: return .pause
        case .resume: return .resume
        case .advance: return .advance
        case .rollback: return .rollback(archiveCandidate: m.archiveCandidate)
        case .promote: return .promote(arm: m.promoteArm.isEmpty ? nil : m.promoteArm)
        case .setWeights:
            guard !m.weights.isEmpty else { throw ServiceError.invalidArgument("SET_WEIGHTS needs weights by variant name") }
            var weights: [String: Double] = [:]
            for (name, weight) in m.weights { weights[name] = weight }
            return .setWeights(weights)
        case .start:
            let strategy: RolloutStrategy
            switch m.strategy {
            case 1: strategy = .canary
            case 2: strategy = .abTest
            default: throw ServiceError.invalidArgument("START needs a strategy: CANARY or AB_TEST")
            }
            var guardrails = Guardrails()
            if let g = m.guardrails {
                guardrails = Guardrails(
                    maxErrorRate: g.maxErrorRate, maxErrorRateIncrease: g.maxErrorRateIncrease, maxP99Ms: g.maxP99Ms,
                    maxP99Ratio: g.maxP99Ratio)
            }
            if m.minSampleRequests > 0 { guardrails.minSampleRequests = m.minSampleRequests }
            let metric: ABMetric
            switch m.metric {
            case 0, 1: metric = .positiveRate
            case 2: metric = .meanScore
            case 3: metric = .errorRate
            case 4: metric = .latency
            default: throw ServiceError.invalidArgument("unknown A/B metric \(m.metric)")
            }
            return .start(RolloutSpec(
                strategy: strategy, baseline: m.baseline, candidate: m.candidate,
                steps: m.steps.map { CanaryStep(percent: $0.percent, minRequests: $0.minRequests, minDurationMs: $0.minDurationMs) },
                guardrails: guardrails, auto: m.auto,
                arms: m.arms.map { ABArm(name: $0.name, version: $0.version, weight: $0.weight) },
                metric: metric, minDetectableEffect: m.minDetectableEffect, significance: m.significance,
                shadow: m.shadow))
        }
    }

    /// Encodes a controller status as the wire message. The numeric state, strategy and metric codes here must match
    /// the enum values in the rollout proto; nil strategy is 0.
    static func message(from status: RolloutStatus) -> RolloutResponseMessage {
        var out = RolloutResponseMessage()
        out.model = status.model
        out.rolloutID = status.rolloutID
        switch status.state {
        case .none: out.state = 0
        case .running: out.state = 1
        case .paused: out.state = 2
        case .rolledBack: out.state = 3
        case .promoted: out.state = 4
        case .completed: out.state = 5
        }
        switch status.strategy {
        case .canary?: out.strategy = 1
        case .abTest?: out.strategy = 2
        case nil: out.strategy = 0
        }
        out.variants = status.variants.map { variant in
            var v = VariantStatusMessage()
            v.name = variant.name
            v.version = variant.version
            v.weight = variant.weight
            v.step = stats(variant.step)
            v.overall = stats(variant.overall)
            v.shadow = variant.isShadow
            v.agreementRate = variant.agreementRate
            return v
        }
        out.stepIndex = UInt32(clamping: status.stepIndex)
        out.steps = status.steps.map {
            CanaryStepMessage(percent: $0.percent, minRequests: $0.minRequests, minDurationMs: $0.minDurationMs)
        }
        out.lastDecision = status.lastDecision
        out.history = status.history.map { ($0.unixMs, $0.from.rawValue, $0.to.rawValue, $0.reason) }
        if let ab = status.ab {
            let metric: UInt32
            switch ab.metric {
            case .positiveRate: metric = 1
            case .meanScore: metric = 2
            case .errorRate: metric = 3
            case .latency: metric = 4
            }
            out.ab = (metric, ab.pValue, ab.requiredSampleSize, ab.requiredSampleSizeExact, ab.sampleSizeReached,
                      ab.significant)
        }
        out.auto = status.auto
        out.generation = status.generation
        out.replicaID = status.replicaID
        out.replicas = status.replicas.map { ($0.replicaID, $0.requests, $0.errors, $0.updatedUnixMs) }
        return out
    }

    /// Copies one variant's request, error and latency (ms) counters into the wire form, field for field.
    private static func stats(_ s: VariantStats) -> VariantStatsMessage {
        var out = VariantStatsMessage()
        out.requests = s.requests
        out.errors = s.errors
        out.errorRate = s.errorRate
        out.p50Ms = s.p50Ms
        out.p95Ms = s.p95Ms
        out.p99Ms = s.p99Ms
        out.meanConfidence = s.meanConfidence
        out.positiveRate = s.positiveRate
        out.meanScore = s.meanScore
        return out
    }
}

/// Blocks the calling thread for `milliseconds`; used by the bounded wait-for-load loops, which run off the event loop.
func usleepMillis(_ milliseconds: Int) {
    var request = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
    nanosleep(&request, nil)
}
