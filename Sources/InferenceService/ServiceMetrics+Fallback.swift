import ServerMetrics
import Synchronization

/// `sluice_fallback_total{model,version,fallback_version,reason}`: calls a model's fallback version answered.
extension ServiceMetrics {
    /// Why the fallback answered a call.
    public enum FallbackReason: String, Sendable {
        /// The Production version failed to load.
        case loadFailed = "load_failed"
        /// The chosen version failed while scoring, for a reason that is not the client's.
        case runtimeError = "runtime_error"
    }

    /// Cache key for one `sluice_fallback_total` series: the labels as typed values, so a lookup needs no strings
    /// built.
    struct FallbackKey: Hashable {
        let model: String
        /// The version that could not answer.
        let failed: Int64
        /// The fallback version that answered instead.
        let fallback: Int64
        let reason: FallbackReason
    }

    /// Counts one call the fallback answered in place of version `failed` (the series is looked up once, then
    /// found by hashing the key: no label arrays per call).
    func countFallback(model: String, failed: Int64, fallback: Int64, reason: FallbackReason) {
        let key = FallbackKey(model: model, failed: failed, fallback: fallback, reason: reason)
        let counter = fallbackSeries.withLock { cache -> Counter in
            if let counter = cache[key] { return counter }
            let counter = fallbacks.labels([model, String(failed), String(fallback), reason.rawValue])
            cache[key] = counter
            return counter
        }
        counter.increment()
    }
}
