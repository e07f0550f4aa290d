public import Synchronization

/// A latency (or size) histogram with fixed upper bounds, Prometheus style. Lock-free recording.
///
/// Values are recorded in integer units (nanoseconds for latencies, items for sizes) and rendered
/// divided by `unitScale` (1e9 turns nanoseconds into Prometheus' seconds).
public final class Histogram: @unchecked Sendable {
    /// Upper bounds in recording units, ascending; an implicit +Inf bucket follows.
    public let bounds: [UInt64]
    /// Divisor applied when rendering bounds and the sum.
    public let unitScale: Double
    // One atomic per bucket (+Inf last), then the sum, then the count. Allocated once, never freed
    // before deinit; Atomic is non-copyable so it lives in raw storage rather than an array.
    private let cells: UnsafeMutablePointer<Atomic<UInt64>>
    private let cellCount: Int

    /// Default latency bounds: 50 µs … 10 s, in nanoseconds.
    public static let latencyBoundsNanos: [UInt64] = [
        50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000,
        100_000_000, 250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 10_000_000_000,
    ]

    /// - Parameters:
    ///   - bounds: Bucket upper bounds in recording units, ascending (a value equal to a bound falls in its bucket).
    ///   - unitScale: The divisor that turns recording units into the rendered unit.
    public init(bounds: [UInt64] = Histogram.latencyBoundsNanos, unitScale: Double = 1e9) {
        self.bounds = bounds
        self.unitScale = unitScale
        cellCount = bounds.count + 3
        cells = .allocate(capacity: cellCount)
        for index in 0..<cellCount { (cells + index).initialize(to: Atomic(0)) }
    }

    deinit {
        cells.deinitialize(count: cellCount)
        cells.deallocate()
    }

    /// Counts `value` in the first bucket whose bound is at least `value` (+Inf above the last) and adds it to the sum.
    ///
    /// Three relaxed atomic adds, no lock and no allocation; a reader may see the bucket, sum and count of a concurrent
    /// record at slightly different moments.
    @inline(__always)
    public func record(_ value: UInt64) {
        var bucket = bounds.count
        // Linear scan: 16 bounds, mostly hit in the first few for fast calls.
        for (index, bound) in bounds.enumerated() where value <= bound {
            bucket = index
            break
        }
        cells[bucket].wrappingAdd(1, ordering: .relaxed)
        cells[cellCount - 2].wrappingAdd(value, ordering: .relaxed)
        cells[cellCount - 1].wrappingAdd(1, ordering: .relaxed)
    }

    /// Per-bucket counts (not cumulative), +Inf last.
    public var bucketCounts: [UInt64] { (0...bounds.count).map { cells[$0].load(ordering: .relaxed) } }
    /// The sum of all recorded values, in recording units (wraps around on overflow).
    public var sum: UInt64 { cells[cellCount - 2].load(ordering: .relaxed) }
    /// The number of recorded values.
    public var count: UInt64 { cells[cellCount - 1].load(ordering: .relaxed) }

    /// An estimate of quantile `q` (0...1) from the buckets (upper bound of the bucket that holds it).
    public func quantile(_ q: Double) -> Double {
        let counts = bucketCounts
        let total = counts.reduce(0, +)
        guard total > 0 else { return 0 }
        let target = UInt64((Double(total) * q).rounded(.up))
        var running: UInt64 = 0
        for (index, count) in counts.enumerated() {
            running += count
            if running >= max(target, 1) {
                return index < bounds.count ? Double(bounds[index]) / unitScale : Double(bounds.last ?? 0) / unitScale
            }
        }
        return Double(bounds.last ?? 0) / unitScale
    }
}
