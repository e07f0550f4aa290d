import Synchronization

/// A lock-free, thread-safe source of uniform 64-bit values for requests without a routing key.
///
/// A SplitMix64 generator whose state advances by one atomic add of the golden-ratio increment; the output is
/// the finalized state. One relaxed fetch-add per call, no lock.
final class RandomSource: Sendable {
    private let state: Atomic<UInt64>

    init(seed: UInt64 = UInt64.random(in: .min ... .max)) {
        state = Atomic(seed)
    }

    @inline(__always)
    func next() -> UInt64 {
        let gamma: UInt64 = 0x9e37_79b9_7f4a_7c15
        var z = state.wrappingAdd(gamma, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
