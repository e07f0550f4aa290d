import GRPCCore
import InferenceEngine
import ModelRegistry
import SluiceProto
import TrafficRouting
import BackgroundThreads

/// Where one scoring call goes: the worker that answers, the rollout assignment that chose it (if any), and
/// whether it is the model's fallback version.
struct RoutedTarget {
    /// The loaded version that scores the call.
    let worker: ModelWorker<ServableModel>
    /// The rollout arm that chose `worker`; nil outside a rollout and for explicit version selectors.
    let assignment: Assignment?
    /// The model's fallback answers (variant `fallback`), in place of a failed Production version or of a
    /// chosen version that failed at run time.
    let isFallback: Bool
    /// Whether a run-time failure of `worker` may be answered by the fallback: routed and `production` calls.
    let mayFallBack: Bool

    /// The defaults describe a plain call: not the fallback, and not eligible to fall back.
    init(worker: ModelWorker<ServableModel>, assignment: Assignment?, isFallback: Bool = false, mayFallBack: Bool = false) {
        self.worker = worker
        self.assignment = assignment
        self.isFallback = isFallback
        self.mayFallBack = mayFallBack
    }

    /// The response's `variant`: `fallback`, the rollout arm, or "" outside a rollout.
    var variantName: String { isFallback ? "fallback" : assignment?.variantName ?? "" }

    /// The fallback target for a call to `entry` that failed with `error`, when the fallback may answer it: the
    /// call was routed or named Production, the failure is the server's (the version cannot evaluate rows at
    /// all, or an unexpected error), and the fallback is another, ready version. Nil: report `error`.
    func fallback(in entry: ModelEntry<ServableModel>, after error: any Error) -> RoutedTarget? {
        guard mayFallBack, !isFallback, let fallback = entry.fallback, fallback.version != worker.version,
            Self.isServerFault(error)
        else { return nil }
        return RoutedTarget(worker: fallback, assignment: nil, isFallback: true)
    }

    /// True for failures that are not the client's: the engine cannot run the version (`invalidModel`,
    /// `unsupported`) or an error the service does not know. Bad input, decoding and registry errors are not.
    static func isServerFault(_ error: any Error) -> Bool {
        switch error {
        case let error as EngineError: return error.kind == .invalidModel || error.kind == .unsupported
        case is ServiceError, is RegistryError, is ProtoDecodeError, is RPCError: return false
        default: return true
        }
    }
}

extension InferenceAPI {
    /// Records a call whose chosen version failed at run time before its fallback answers it: the failure under
    /// the chosen version (metrics, and the rollout's statistics, so a failing candidate is still judged on it),
    /// and the fallback counter.
    func recordFallback(
        _ rpc: ServiceMetrics.RPCKind, failed: RoutedTarget, fallback: RoutedTarget, error: any Error, started: UInt64
    ) {
        let elapsed = monotonicNanos() - started
        let code = RPCError.from(error).code
        metrics.record(rpc, model: failed.worker.model, version: failed.worker.version, variant: failed.variantName,
                       code: code.rawValue, nanos: elapsed)
        if let assignment = failed.assignment, let rollouts {
            rollouts.record(assignment, outcome: Outcome(ok: false, latencyNs: elapsed))
        }
        metrics.countFallback(model: failed.worker.model, failed: failed.worker.version,
                              fallback: fallback.worker.version, reason: .runtimeError)
    }
}
