import BackgroundThreads
import Synchronization
import Testing

/// `ConditionLock`: guarded state, signalled wake-ups and deadlines on the monotonic clock.
@Suite("Condition lock")
struct ConditionLockTests {
    @Test("a waiter sleeping until signalled wakes when another thread changes the state")
    func wakesOnSignal() throws {
        let lock = ConditionLock(0)
        let seen = Atomic<Int>(0)
        let waiter = try #require(
            BackgroundThread.start(name: "test-waiter") {
                var value = 0
                while value == 0 {
                    lock.wait { $0 == 0 ? .untilSignalled : .no }
                    value = lock.withLock { $0 }
                }
                seen.store(value, ordering: .relaxed)
            })
        lock.withLockSignalling { $0 = 7 }
        waiter.join()
        #expect(seen.load(ordering: .relaxed) == 7)
    }

    @Test("a deadline wait returns after the deadline without a signal, and .no returns at once")
    func deadline() {
        let lock = ConditionLock("state")
        let start = monotonicNanos()
        lock.wait { _ in .until(start + 20_000_000) }
        #expect(monotonicNanos() - start >= 19_000_000)
        let again = monotonicNanos()
        lock.wait { _ in .no }
        #expect(monotonicNanos() - again < 1_000_000_000)
        #expect(lock.withLock { $0 } == "state")
    }
}
