public import Synchronization

/// One loaded, ready version of a model: its compiled form and its statistics.
///
/// Calls hold a reference for their whole duration, so a version that is switched away from
/// finishes the calls it started and is released after the last one returns.
public final class ModelWorker<Model: AnyObject & Sendable>: Sendable {
    /// The model name this worker serves.
    public let model: String
    /// The registry version number it was loaded from.
    public let version: Int64
    /// The compiled model, shared read-only by every concurrent call.
    public let compiled: Model
    /// SHA-256 of the bytes that were loaded.
    public let sha256: String
    /// How long loading and compiling took, in seconds.
    public let loadSeconds: Double
    /// Confidence statistics for this version, updated by every call without locking.
    public let stats = WorkerStats()

    /// Wraps a version that has already loaded and compiled; does no I/O.
    public init(model: String, version: Int64, compiled: Model, sha256: String, loadSeconds: Double) {
        self.model = model
        self.version = version
        self.compiled = compiled
        self.sha256 = sha256
        self.loadSeconds = loadSeconds
    }
}

/// Per-version serving statistics the metric series do not already hold (those count requests by status and
/// time them per version: `sluice_requests_total`, `sluice_request_duration_seconds`). Lock-free.
public final class WorkerStats: Sendable {
    /// Sum of confidences in millionths, for the mean.
    private let confidenceMicros = Atomic<UInt64>(0)
    private let confidenceCount = Atomic<UInt64>(0)

    public init() {}

    /// Adds `confidence` to the sum once and `rows` to the count. NaN, infinite and negative values are ignored.
    /// Relaxed atomics: safe from any thread, no allocation.
    @inline(__always)
    public func record(confidence: Float, rows: Int = 1) {
        guard confidence.isFinite, confidence >= 0 else { return }
        confidenceMicros.wrappingAdd(UInt64(Double(confidence) * 1e6), ordering: .relaxed)
        confidenceCount.wrappingAdd(UInt64(rows), ordering: .relaxed)
    }

    /// Adds a batch's total confidence (sum over rows).
    public func record(confidenceSum: Double, rows: Int) {
        guard confidenceSum.isFinite, confidenceSum >= 0, rows > 0 else { return }
        confidenceMicros.wrappingAdd(UInt64(confidenceSum * 1e6), ordering: .relaxed)
        confidenceCount.wrappingAdd(UInt64(rows), ordering: .relaxed)
    }

    /// Mean confidence per recorded row, 0 before anything was recorded. The two counters are read separately,
    /// so under concurrent writes the value is approximate.
    public var meanConfidence: Double {
        let count = confidenceCount.load(ordering: .relaxed)
        return count == 0 ? 0 : Double(confidenceMicros.load(ordering: .relaxed)) / 1e6 / Double(count)
    }
}
