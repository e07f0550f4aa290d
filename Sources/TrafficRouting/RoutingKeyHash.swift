/// The documented, replica-independent hash that maps (rollout id, routing key) to basis points [0, 10000).
///
/// ```
/// h  = 0xcbf29ce484222325                                   // FNV-1a 64 offset basis
/// for byte in UTF8(rollout_id) ++ [0x00] ++ key_bytes:       // 0x00 separates id and key
///     h = (h XOR byte) * 0x100000001b3  mod 2^64             // FNV-1a 64 prime
/// h ^= h >> 33; h *= 0xff51afd7ed558ccd; h ^= h >> 33        // MurmurHash3 fmix64 finalizer
/// h *= 0xc4ceb9fe1a85ec53; h ^= h >> 33                      // (all mod 2^64)
/// basis_points = (h * 10000) >> 64                           // high word of the 128-bit product
/// ```
///
/// The state after the id and the separator is computed once per rollout (``prefix(rolloutID:)``), so a request
/// only hashes its key bytes. See `docs/routing.md`.
public enum RoutingKeyHash {
    static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01b3

    /// FNV-1a state after hashing the rollout id and the 0x00 separator.
    public static func prefix(rolloutID: String) -> UInt64 {
        var h = offsetBasis
        for byte in rolloutID.utf8 { h = (h ^ UInt64(byte)) &* prime }
        return (h ^ 0) &* prime
    }

    /// Continues FNV-1a from `state` over `bytes`.
    @inline(__always)
    static func absorb(_ state: UInt64, _ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h = state
        for byte in bytes { h = (h ^ UInt64(byte)) &* prime }
        return h
    }

    /// MurmurHash3's 64-bit finalizer.
    @inline(__always)
    static func fmix64(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h &*= 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }

    /// Maps a uniformly distributed 64-bit value to [0, 10000) by the high word of `value × 10000`.
    @inline(__always)
    static func basisPoints(_ value: UInt64) -> Int {
        Int(truncatingIfNeeded: value.multipliedFullWidth(by: 10_000).high)
    }

    /// The full 64-bit hash of `key` under a rollout whose prefix state is `prefix`.
    public static func hash(prefix: UInt64, key: String) -> UInt64 {
        var key = key
        return key.withUTF8 { fmix64(absorb(prefix, UnsafeRawBufferPointer($0))) }
    }

    /// The basis point [0, 10000) of `key` under the rollout whose id hashed to `prefix`.
    public static func basisPoints(prefix: UInt64, key: String) -> Int {
        basisPoints(hash(prefix: prefix, key: key))
    }

    /// The basis point of raw key bytes (for callers holding the key as bytes, e.g. straight from a message).
    public static func basisPoints(prefix: UInt64, keyBytes: UnsafeRawBufferPointer) -> Int {
        basisPoints(fmix64(absorb(prefix, keyBytes)))
    }
}
