import Synchronization

/// Verified principals by the exact credential string (the whole `authorization` header, or an mTLS subject),
/// until they expire. Sharded so event-loop threads rarely meet on one lock; bounded: a full shard first drops
/// expired entries, then everything (an attacker cannot grow it, and valid callers just re-verify once).
final class PrincipalCache: Sendable {
    /// A cache key that hashes only the length and the last 32 bytes: for a JWT those are signature bytes,
    /// unique per token, and hashing 32 bytes instead of ~600 halves the hot-path cost. Equality still compares
    /// the whole string. Only verified credentials are inserted, so crafted collisions need valid tokens and
    /// are bounded by the shard size.
    struct Key: Hashable, Sendable {
        let text: String
        let tail: UInt64

        init(_ text: String) {
            self.text = text
            tail = Self.tailHash(text)
        }

        /// FNV-1a of the last 32 bytes, mixed with the length.
        @inline(__always)
        static func tailHash(_ text: String) -> UInt64 {
            let hash = { (bytes: UnsafeBufferPointer<UInt8>) -> UInt64 in
                var h: UInt64 = 14_695_981_039_346_656_037
                for b in bytes[max(0, bytes.count - 32)...] { h = (h ^ UInt64(b)) &* 1_099_511_628_211 }
                return h ^ UInt64(bytes.count)
            }
            if let h = text.utf8.withContiguousStorageIfAvailable(hash) { return h }
            var text = text
            return text.withUTF8(hash)
        }

        static func == (a: Key, b: Key) -> Bool { a.tail == b.tail && a.text == b.text }
        func hash(into hasher: inout Hasher) { hasher.combine(tail) }
    }

    /// One lock and map; a key's shard is chosen by the top bits of its tail hash.
    private final class Shard: Sendable {
        let map = Mutex<[Key: Principal]>([:])
    }
    private static let shardCount = 16
    private let shards: [Shard]
    /// Maximum entries per shard (`capacity / shardCount`, at least 1); reaching it triggers the purge in `put`.
    private let perShard: Int

    /// A cache of about `capacity` principals in total, split evenly across 16 shards.
    init(capacity: Int) {
        perShard = max(1, capacity / Self.shardCount)
        shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    private func shard(_ key: Key) -> Shard { shards[Int(key.tail >> 60) % Self.shardCount] }

    /// The cached principal for exactly this credential, or nil when absent or expired at `now` (seconds since
    /// the epoch). An expired entry is left in place for `put`'s purge to drop.
    func get(_ text: String, now: Double) -> Principal? {
        let key = Key(text)
        guard let p = shard(key).map.withLock({ $0[key] }) else { return nil }
        return now <= p.validUntil ? p : nil
    }

    /// Caches `p` for a credential that was just verified. Never call it for a failed verification: the cache is
    /// what lets a caller skip signature checks.
    func put(_ text: String, _ p: Principal, now: Double) {
        let key = Key(text)
        let cap = perShard
        shard(key).map.withLock { map in
            if map.count >= cap {
                map = map.filter { now <= $0.value.validUntil }
                if map.count >= cap { map.removeAll(keepingCapacity: true) }
            }
            map[key] = p
        }
    }

    /// Entries across all shards. Takes every shard lock in turn, so it is for tests and metrics, not the hot path.
    var count: Int { shards.reduce(0) { $0 + $1.map.withLock { $0.count } } }
}
