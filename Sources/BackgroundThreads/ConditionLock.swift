#if canImport(Glibc)
    import Glibc
#endif

/// State guarded by one mutex, with a condition variable on the monotonic clock, for the background threads that
/// sleep until there is work or a deadline passes (the registry's poller, the batch scheduler).
///
/// `Synchronization.Mutex` guards state but cannot sleep on it; this adds exactly the waiting part, in one place,
/// so no subsystem hand-rolls `pthread_cond_*` again. Deadlines are `monotonicNanos()` values.
public final class ConditionLock<State>: @unchecked Sendable {
    /// How long `wait` sleeps after its body ran.
    public enum Wait {
        /// Do not sleep: return at once (there is work already).
        case no
        /// Sleep until signalled.
        case untilSignalled
        /// Sleep until signalled or until the monotonic deadline (nanoseconds) passes.
        case until(UInt64)
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var state: State

    public init(_ state: State) {
        self.state = state
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` with the state locked.
    public func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }

    /// Runs `body` with the state locked, then wakes every waiter (while still holding the lock, so a waiter
    /// that is about to sleep cannot miss the change).
    public func withLockSignalling<R>(_ body: (inout State) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        return try body(&state)
    }

    /// Runs `body` with the state locked; then, without releasing the lock in between, sleeps as `body` says.
    /// Returns when signalled, at the deadline, or spuriously: callers re-check their state, as with any
    /// condition variable.
    public func wait(_ body: (inout State) -> Wait) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        switch body(&state) {
        case .no:
            return
        case .untilSignalled:
            pthread_cond_wait(condition, mutex)
        case .until(let deadline):
            var ts = timespec()
            ts.tv_sec = Int(deadline / 1_000_000_000)
            ts.tv_nsec = Int(deadline % 1_000_000_000)
            _ = pthread_cond_timedwait(condition, mutex, &ts)
        }
    }
}
