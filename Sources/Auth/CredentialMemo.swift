#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Synchronization

/// The last few credentials (`authorization` or `x-api-key` header values) the current thread authenticated,
/// with their principals. An event-loop thread sees the same credential on call after call of a connection;
/// the memo answers those calls without a lock, a shared cache line or (for API keys) a SHA-256.
///
/// Thread-confined: one memo per thread (a pthread key), never shared. Entries belong to one policy generation,
/// a number unique in the process to one `AuthService` and one loaded policy (a reload takes a new one), so a revoked key or a new binding is never served from here; a
/// principal past its `validUntil` is not returned. As in `PrincipalCache`, the full comparison of a presented
/// credential with a remembered one happens only after their 64-bit tail hashes match, so its timing reveals
/// nothing about a credential the caller does not already hold.
final class CredentialMemo {
    private struct Entry {
        var tail: UInt64
        var apiKey: Bool
        var credential: String
        var principal: Principal
    }
    private static let size = 4
    private var generation: UInt64 = 0
    private var entries: [Entry] = []
    private var next = 0

    private static let generations = Atomic<UInt64>(0)

    /// A generation number never handed out before in this process.
    static func newGeneration() -> UInt64 { generations.wrappingAdd(1, ordering: .relaxed).newValue }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { memo in
            if let memo { Unmanaged<CredentialMemo>.fromOpaque(memo).release() }
        }
        return key
    }()

    /// Runs `body` with this thread's memo (lent without a retain: the thread's key holds it).
    @inline(__always)
    static func withCurrent<R>(_ body: (CredentialMemo) -> R) -> R {
        if let raw = pthread_getspecific(key) {
            return Unmanaged<CredentialMemo>.fromOpaque(raw)._withUnsafeGuaranteedRef(body)
        }
        let memo = CredentialMemo()
        pthread_setspecific(key, Unmanaged.passRetained(memo).toOpaque())
        return body(memo)
    }

    /// The remembered principal for `credential`, if it was authenticated under `generation` and is still valid
    /// at `now`.
    @inline(__always)
    func principal(for credential: String, apiKey: Bool, generation: UInt64, now: Double) -> Principal? {
        guard self.generation == generation, !entries.isEmpty else { return nil }
        let tail = PrincipalCache.Key.tailHash(credential)
        for k in entries.indices
        where entries[k].tail == tail && entries[k].apiKey == apiKey && entries[k].credential == credential {
            let principal = entries[k].principal
            return now <= principal.validUntil ? principal : nil
        }
        return nil
    }

    /// Remembers an authenticated credential (replacing the oldest entry when full).
    func remember(_ credential: String, apiKey: Bool, principal: Principal, generation: UInt64) {
        if self.generation != generation {
            self.generation = generation
            entries.removeAll(keepingCapacity: true)
            next = 0
        }
        let entry = Entry(
            tail: PrincipalCache.Key.tailHash(credential), apiKey: apiKey, credential: credential, principal: principal)
        if entries.count < Self.size {
            entries.append(entry)
        } else {
            entries[next] = entry
            next = (next + 1) % Self.size
        }
    }
}
