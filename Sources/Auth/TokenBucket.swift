import Synchronization

/// One token bucket (requests per second, burst). Its own lock, so principals never contend with each other.
final class TokenBucket: Sendable {
    /// The rate and burst this bucket enforces. Fixed for its lifetime: a changed limit gets a new bucket.
    let limit: SecurityConfig.RateLimit
    /// Tokens left (fractional, at most `limit.burst`) and the monotonic time, in ns, of the last refill.
    private struct State {
        var tokens: Double
        var lastNanos: UInt64
    }
    private let state: Mutex<State>

    /// A full bucket (`limit.burst` tokens) as of `nowNanos`, a monotonic clock reading in nanoseconds.
    init(limit: SecurityConfig.RateLimit, nowNanos: UInt64) {
        self.limit = limit
        self.state = Mutex(State(tokens: limit.burst, lastNanos: nowNanos))
    }

    /// Takes one token. Returns nil when admitted, else the milliseconds until one token is available.
    func take(nowNanos: UInt64) -> Int? {
        state.withLock { s in
            if nowNanos > s.lastNanos {
                let elapsed = Double(nowNanos - s.lastNanos) / 1e9
                s.tokens = min(limit.burst, s.tokens + elapsed * limit.requestsPerSecond)
                s.lastNanos = nowNanos
            }
            if s.tokens >= 1 {
                s.tokens -= 1
                return nil
            }
            let wait = (1 - s.tokens) / limit.requestsPerSecond
            return max(1, Int((wait * 1000).rounded(.up)))
        }
    }
}

/// A principal's buckets, one per rate class (nil = unlimited).
struct RateBuckets: Sendable {
    /// One slot per rate class, indexed by `RateBuckets.index(_:)`; nil means that class is not limited.
    let byClass: [TokenBucket?]
    /// False when every class is unlimited (the usual case): nothing to take per call.
    let limited: Bool

    init(byClass: [TokenBucket?]) {
        self.byClass = byClass
        limited = byClass.contains { $0 != nil }
    }

    /// The shared value for principals with no limits: no buckets are allocated and `limited` is false.
    static let unlimited = RateBuckets(byClass: Array(repeating: nil, count: RateClass.allCases.count))

    /// The bucket that limits `c`, or nil when that class is unlimited for this principal.
    func bucket(_ c: RateClass) -> TokenBucket? {
        byClass[Self.index(c)]
    }

    /// The fixed slot of `c` in `byClass` (which always has `RateClass.allCases.count` slots).
    static func index(_ c: RateClass) -> Int {
        switch c {
        case .predict: 0
        case .metadata: 1
        case .rollout: 2
        case .health: 3
        }
    }
}

/// Shared buckets by principal, class and limit. Kept across policy reloads so a reload does not refill every
/// bucket (a bucket whose limit changed is replaced).
final class RateLimiterRegistry: Sendable {
    /// Buckets are shared only for the same principal, class and exact limit, so a changed limit starts afresh.
    private struct Key: Hashable {
        let principal: String
        let rateClass: RateClass
        let limit: SecurityConfig.RateLimit
    }
    /// Every bucket handed out so far, created lazily under the lock. This type never removes entries.
    private let buckets = Mutex<[Key: TokenBucket]>([:])

    /// Resolves the buckets for a principal from the matching bindings' limits (first binding that limits a class
    /// wins; `*` covers classes not named), then the default limits.
    func buckets(principal: String, limits: [[String: SecurityConfig.RateLimit]], nowNanos: UInt64) -> RateBuckets {
        var out = [TokenBucket?](repeating: nil, count: RateClass.allCases.count)
        var any = false
        for c in RateClass.allCases {
            var chosen: SecurityConfig.RateLimit?
            for l in limits {
                if let x = l[c.rawValue] ?? l["*"] {
                    chosen = x
                    break
                }
            }
            guard let limit = chosen else { continue }
            any = true
            let key = Key(principal: principal, rateClass: c, limit: limit)
            out[RateBuckets.index(c)] = buckets.withLock { map in
                if let b = map[key] { return b }
                let b = TokenBucket(limit: limit, nowNanos: nowNanos)
                map[key] = b
                return b
            }
        }
        return any ? RateBuckets(byClass: out) : .unlimited
    }
}
