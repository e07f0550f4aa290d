public import Auth
import BackgroundThreads
import GRPCCore
import ModelRegistry
import SluiceProto
import TrafficRouting

/// Authentication, authorization, rate limits and the audit trail of Inference calls.
///
/// Every Inference RPC is admitted here before it reaches routing or the engine, and leaves exactly one
/// audit record (when an audit log is configured) with its outcome. Health checks pass through the gate the
/// server puts in front of the health service (`GatedService`).
public final class CallGate: Sendable {
    public let auth: AuthService

    public init(auth: AuthService) { self.auth = auth }

    /// The status a denial is answered with. Unauthenticated answers say how to authenticate and nothing else.
    public static func error(for denial: AuthDenial) -> ServiceError {
        switch denial.code {
        case .unauthenticated:
            return ServiceError(.unauthenticated, denial.message)
        case .permissionDenied:
            return ServiceError(.permissionDenied, denial.message)
        case .rateLimited:
            let retry = denial.retryAfterMs ?? 1000
            return ServiceError(
                .resourceExhausted, denial.message, trailers: [RPCError.Trailer("retry-after-ms", String(retry))])
        default:
            // .unavailable: the audit log is full or failed in fail-closed mode; it may accept the call later.
            return ServiceError(.unavailable, denial.message)
        }
    }

    /// Writes the call's audit record (no-op without an audit log). Never contains tokens, keys or features.
    func audit(_ call: CallRecord, context: CallContext, status: StatusCode, latencyNanos: UInt64) {
        guard let log = auth.audit else { return }
        log.record(
            time: call.wallStart, requestID: call.requestID, decision: call.decision, peer: context.peer,
            rpc: call.rpc, model: call.model, selector: call.selector, version: call.version, variant: call.variant,
            grpcStatus: Int(status.rawValue), latencyMicros: Int64(latencyNanos / 1000))
    }
}

/// What the audit needs to know about one call, filled in as the call proceeds.
struct CallRecord {
    var rpc: AuthRPC
    var wallStart: Double = 0
    var model = ""
    var selector = ""
    var requestID = ""
    var version: Int64?
    var variant = ""
    /// The authorization decision; nil until the call was admitted (audited as anonymous).
    var decision: AuthDecision?

    /// `started`: the call's start on the monotonic clock (its wall-clock time is derived from it).
    init(rpc: AuthRPC, audited: Bool, started: UInt64) {
        self.rpc = rpc
        if audited { wallStart = WallClock.seconds(atMonotonic: started) }
    }
}

extension InferenceAPI {
    /// Ends a synchronous Predict/BatchPredict call: failure statistics (successes were recorded where the
    /// answer was made), the rollout outcome, and the audit record.
    func finish(
        _ rpc: ServiceMetrics.RPCKind, status: RPCError,
        served: RoutedTarget?, record: inout CallRecord,
        context: CallContext, started: UInt64
    ) -> UnaryOutcome {
        let elapsed = monotonicNanos() - started
        if status.code != .ok {
            if let served {
                metrics.record(rpc, model: served.worker.model, version: served.worker.version,
                               variant: served.variantName, code: status.code.rawValue, nanos: elapsed)
                if let assignment = served.assignment, let rollouts {
                    rollouts.record(assignment, outcome: Outcome(ok: false, latencyNs: elapsed))
                }
            } else {
                metrics.record(rpc, model: "", version: 0, variant: "", code: status.code.rawValue, nanos: elapsed)
            }
        }
        if let gate {
            record.version = served?.worker.version
            record.variant = served?.variantName ?? ""
            gate.audit(record, context: context, status: status.code, latencyNanos: elapsed)
        }
        return status.code == .ok ? .ok : .failure(status)
    }

    /// Admits a scoring call (authentication, RBAC, rate limit), then resolves and routes it to a worker.
    @inline(__always)
    func admitAndRoute(
        _ view: some ScoringRequestView, requestID: UnsafeRawBufferPointer, _ record: inout CallRecord,
        context: CallContext
    ) throws -> (ModelEntry<ServableModel>, RoutedTarget) {
        if gate != nil {
            record.requestID = String(decoding: requestID, as: UTF8.self)
            if !view.version.isEmpty { record.selector = String(decoding: view.version, as: UTF8.self) }
            try admit(&record, model: requestedModel(view.model, view.version), context: context)
        }
        let (entry, selector) = try resolveTarget(
            modelBytes: view.model, versionBytes: view.version, snapshot: registry.snapshot)
        return (entry, try route(entry, selector, routingKey: view.routingKey))
    }

    /// Admits a call for `model` (throws the denial's status), recording the decision for the audit.
    @inline(__always)
    func admit(_ record: inout CallRecord, model: String, context: CallContext) throws {
        guard let gate else { return }
        record.model = model
        let decision = gate.auth.authorize(
            rpc: record.rpc, model: model, authorization: context.metadata.first("authorization"),
            apiKey: context.metadata.first("x-api-key"), mtlsSubject: context.clientCertificateSubject,
            peer: context.peer, now: record.wallStart > 0 ? record.wallStart : nil)
        record.decision = decision
        if case .denied(let denial) = decision {
            metrics.countDenial(denial)
            throw CallGate.error(for: denial)
        }
    }

    /// Admits an undecodable request as far as authentication goes, so that an unauthenticated caller learns
    /// nothing more than UNAUTHENTICATED.
    func admitMalformed(_ record: inout CallRecord, context: CallContext, _ error: any Error) -> RPCError {
        do { try admit(&record, model: "", context: context) } catch let denial as ServiceError {
            if denial.rpcError.code == .unauthenticated { return denial.rpcError }
        } catch {}
        return RPCError.from(error)
    }

    /// The model a request names: its `model` field, or the model inside a `models:/` selector.
    func requestedModel(_ model: UnsafeRawBufferPointer, _ version: UnsafeRawBufferPointer) -> String {
        if !model.isEmpty { return String(decoding: model, as: UTF8.self) }
        if version.starts(with: "models:/".utf8),
            let parsed = try? VersionSelector.parse(String(decoding: version, as: UTF8.self)), let name = parsed.model
        {
            return name
        }
        return ""
    }
}
