#if canImport(Glibc)
import Glibc
#endif
public import GRPCCore
public import ModelRegistry
import BackgroundThreads
import Auth
import SluiceProto
import Synchronization
public import TrafficRouting

/// The `sluice.v1.Inference` service: decode → route → registry → engine → encode, with metrics.
/// Handlers run synchronously on the event-loop thread that received the call.
public final class InferenceAPI: GRPCService {
    public let serviceName = "sluice.v1.Inference"
    public let registry: ModelRegistry<ServableModel>
    public let metrics: ServiceMetrics
    /// Canary and A/B rollouts; nil when the server runs without a writable registry.
    public let rollouts: RolloutManager?
    /// Authentication, RBAC, rate limits and audit; nil only in tests that exercise the handlers alone.
    public let gate: CallGate?
    /// Where large calls run instead of the event loop; nil runs every call on the loop.
    public let offload: CallOffload?
    let scratchPool = ScratchPool()

    public init(
        registry: ModelRegistry<ServableModel>, metrics: ServiceMetrics, rollouts: RolloutManager? = nil,
        gate: CallGate? = nil, offload: CallOffload? = nil
    ) {
        self.registry = registry
        self.metrics = metrics
        self.rollouts = rollouts
        self.gate = gate
        self.offload = offload
        metrics.watch(registry)
    }

    public var methods: [UnaryMethod] {
        [
            UnaryMethod("Predict") { [self] request, context, response in
                offloadIfHeavy(request, context) { [self] in predict($0, $1, &$2) }
                    ?? predict(request, context, &response)
            },
            UnaryMethod("BatchPredict") { [self] request, context, response in
                offloadIfHeavy(request, context) { [self] in batchPredict($0, $1, &$2) }
                    ?? batchPredict(request, context, &response)
            },
            UnaryMethod("GetModelVersion") { [self] request, context, response in
                offloadIfHeavy(request, context) { [self] in getModelVersion($0, $1, &$2) }
                    ?? getModelVersion(request, context, &response)
            },
            UnaryMethod("Rollout") { [self] request, context, response in
                refuseOverBudget(context) ?? rollout(request, context, &response)
            },
        ]
    }

    /// Moves a heavy call to the workers: a request of at least `offload.minRequestBytes`, or one whose bearer
    /// token needs a signature check first (a token this thread has not seen and no thread has verified), so
    /// neither a big batch nor a stream of fresh tokens can stall the loop. Nil: run on the loop.
    ///
    /// A call that needs a signature check first takes one from its connection's ``ConnectionBudget``; with
    /// none left it is refused here (RESOURCE_EXHAUSTED), before any verification work.
    @inline(__always)
    func offloadIfHeavy(
        _ request: UnsafeRawBufferPointer, _ context: CallContext,
        _ handler: @escaping @Sendable (UnsafeRawBufferPointer, CallContext, inout ResponseBuffer) -> UnaryOutcome
    ) -> UnaryOutcome? {
        guard let gate else {
            guard let offload, request.count >= offload.minRequestBytes else { return nil }
            return offload.run(request, context, handler)
        }
        let needsCheck = gate.auth.needsSignatureCheck(authorization: context.metadata.first("authorization"))
        if needsCheck, let refused = takeSignatureCheck(context) { return refused }
        guard let offload, needsCheck || request.count >= offload.minRequestBytes else { return nil }
        return offload.run(request, context, handler)
    }

    /// Refuses a call whose credential needs a signature check when its connection has none left (nil: go on).
    @inline(__always)
    func refuseOverBudget(_ context: CallContext) -> UnaryOutcome? {
        guard let gate, gate.auth.needsSignatureCheck(authorization: context.metadata.first("authorization"))
        else { return nil }
        return takeSignatureCheck(context)
    }

    /// Takes one signature check from the call's connection budget; the refusal when there is none left.
    func takeSignatureCheck(_ context: CallContext) -> UnaryOutcome? {
        guard let budget = context.budget, let waitMs = budget.take(nowNanos: monotonicNanos()) else { return nil }
        metrics.denials.signatureBudget.add(1, ordering: .relaxed)
        return .failure(
            RPCError(
                .resourceExhausted,
                "too many new credentials on this connection: at most \(budget.perSecond) signature checks per second per connection (--max-signature-checks-per-second); reuse a verified token, or retry after \(waitMs) ms",
                trailers: [RPCError.Trailer("retry-after-ms", String(waitMs))]))
    }

    /// Resolves the model a request names (by field or by a models:/ URI in the selector) and the selector.
    func resolveTarget(
        modelBytes: UnsafeRawBufferPointer, versionBytes: UnsafeRawBufferPointer, snapshot: RegistrySnapshot<ServableModel>
    ) throws -> (ModelEntry<ServableModel>, VersionSelector) {
        var selector = VersionSelector.routed
        var uriModel: String?
        if !versionBytes.isEmpty {
            let parsed = try VersionSelector.parse(String(decoding: versionBytes, as: UTF8.self))
            selector = parsed.selector
            uriModel = parsed.model
        }
        if let uriModel {
            if !modelBytes.isEmpty && !modelBytes.elementsEqual(uriModel.utf8) {
                throw ServiceError.invalidArgument(
                    "model \"\(String(decoding: modelBytes, as: UTF8.self))\" does not match the model in the version URI (\"\(uriModel)\")")
            }
            guard let entry = snapshot.models[uriModel] else { throw notFound(uriModel) }
            return (entry, selector)
        }
        guard !modelBytes.isEmpty else { throw ServiceError.invalidArgument("model is required") }
        guard let entry = snapshot.entry(named: modelBytes) else {
            throw notFound(String(decoding: modelBytes, as: UTF8.self))
        }
        return (entry, selector)
    }

    private func notFound(_ model: String) -> ServiceError {
        ServiceError(.notFound, "model \"\(model)\" is not registered")
    }
}

