import Synchronization

/// Verified principals by the exact credential string (the whole `authorization` header, or an mTLS subject),
/// until they expire. Sharded so event-loop threads rarely meet on one lock; bounded: a full shard first drops
/// expired entries, then everything (an attacker cannot grow it, and valid callers just re-verify once).
final class PrincipalCache: Sendable {
    private final class Shard: Sendable {
        let map = Mutex<[String: Principal]>([:])
    }
    private static let shardCount = 16
    private let shards: [Shard]
    private let perShard: Int

    init(capacity: Int) {
        perShard = max(1, capacity / Self.shardCount)
        shards = (0..<Self.shardCount).map { _ in Shard() }
    }

    private func shard(_ key: String) -> Shard {
        // Hash of the last bytes is enough to spread JWTs (their signatures are random) and cheap.
        var h: UInt32 = 2_166_136_261
        var n = 0
        for b in key.utf8.reversed() {
            h = (h ^ UInt32(b)) &* 16_777_619
            n += 1
            if n == 8 { break }
        }
        return shards[Int(h % UInt32(Self.shardCount))]
    }

    func get(_ key: String, now: Double) -> Principal? {
        guard let p = shard(key).map.withLock({ $0[key] }) else { return nil }
        return now <= p.validUntil ? p : nil
    }

    func put(_ key: String, _ p: Principal, now: Double) {
        let cap = perShard
        shard(key).map.withLock { map in
            if map.count >= cap {
                map = map.filter { now <= $0.value.validUntil }
                if map.count >= cap { map.removeAll(keepingCapacity: true) }
            }
            map[key] = p
        }
    }

    var count: Int { shards.reduce(0) { $0 + $1.map.withLock { $0.count } } }
}
