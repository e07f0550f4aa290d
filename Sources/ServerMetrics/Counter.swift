public import Synchronization

/// A monotonically increasing count. Lock-free; safe from any thread.
public final class Counter: Sendable {
    private let storage = Atomic<UInt64>(0)

    public init() {}

    /// Adds `amount` with a relaxed atomic add; wraps around at `UInt64.max` instead of trapping.
    @inline(__always)
    public func increment(by amount: UInt64 = 1) { storage.wrappingAdd(amount, ordering: .relaxed) }

    public var value: UInt64 { storage.load(ordering: .relaxed) }
}

/// A value that goes up and down. Lock-free; safe from any thread.
public final class Gauge: Sendable {
    private let bits = Atomic<UInt64>(0.0.bitPattern)

    public init() {}

    /// Replaces the value (stored as the `Double`'s bit pattern in one atomic word).
    public func set(_ value: Double) { bits.store(value.bitPattern, ordering: .relaxed) }

    /// Adds `delta` (negative to subtract) with a compare-and-exchange loop, so concurrent adds are never lost.
    public func add(_ delta: Double) {
        var current = bits.load(ordering: .relaxed)
        while true {
            let next = (Double(bitPattern: current) + delta).bitPattern
            let (exchanged, original) = bits.compareExchange(
                expected: current, desired: next, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    public var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }
}
