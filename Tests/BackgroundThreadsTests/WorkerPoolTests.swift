import BackgroundThreads
import Synchronization
import Testing

/// `WorkerPool`: its threads run below the priority of the thread that created the pool (the event loops'),
/// whatever nice value the process started with.
@Suite("Worker pool")
struct WorkerPoolTests {
    /// The nice value and policy of a pool thread, observed from inside a submitted item.
    private static func observe(_ pool: WorkerPool) throws -> (nice: Int32, idle: Bool) {
        let seen = Mutex<(nice: Int32, idle: Bool)?>(nil)
        let done = ConditionLock(false)
        #expect(pool.submit {
            seen.withLock { $0 = ThreadPriority.currentThread() }
            done.withLockSignalling { $0 = true }
        })
        done.wait { finished in finished ? .no : .untilSignalled }
        return try #require(seen.withLock { $0 })
    }

    /// Runs `body` on a fresh thread whose nice value was first raised by `increment` (as if the server had been
    /// started with `nice -n`), and returns that nice value with the body's result.
    private static func onNicerThread<R: Sendable>(
        by increment: Int32, _ body: @escaping @Sendable () throws -> R
    ) throws -> (creatorNice: Int32, result: R) {
        let outcome = Mutex<(Int32, Result<R, any Error>)?>(nil)
        let thread = try #require(
            BackgroundThread.start(name: "test-creator") {
                ThreadPriority.nicer(increment).applyToCurrentThread()
                let nice = ThreadPriority.currentThread().nice
                outcome.withLock { $0 = (nice, Result { try body() }) }
            })
        thread.join()
        let (nice, result) = try #require(outcome.withLock { $0 })
        return (nice, try result.get())
    }

    @Test("workers run at nice +5 relative to their creator by default, and say nothing failed")
    func defaultPriority() throws {
        let creator = ThreadPriority.currentThread().nice
        let pool = WorkerPool(name: "test-pool", size: 1, capacity: 4)
        defer { pool.shutdown() }
        #expect(pool.priorityError == nil)
        let worker = try Self.observe(pool)
        #expect(worker.nice == min(19, creator + 5))
        #expect(worker.idle == (creator == 19))
    }

    @Test("a creator already at a raised nice value gets workers below it, never above (nice -n 19 servers)")
    func relativeToCreator() throws {
        let (creatorNice, worker) = try Self.onNicerThread(by: 12) { () throws -> (nice: Int32, idle: Bool) in
            let pool = WorkerPool(name: "test-pool", size: 1, capacity: 4, priority: .nicer(5))
            defer { pool.shutdown() }
            return try Self.observe(pool)
        }
        #expect(worker.nice >= creatorNice)
        #expect(worker.nice == min(19, creatorNice + 5))
        // No nice value below 19: the workers go idle-class instead of running level with the loops.
        #expect(worker.idle == (creatorNice == 19))
    }

    @Test("a creator at nice 19 gets SCHED_IDLE workers: nothing nicer is left")
    func idleWhenNiceIsExhausted() throws {
        let (creatorNice, worker) = try Self.onNicerThread(by: 19) { () throws -> (nice: Int32, idle: Bool) in
            let pool = WorkerPool(name: "test-pool", size: 1, capacity: 4)
            defer { pool.shutdown() }
            #expect(pool.priorityError == nil)
            return try Self.observe(pool)
        }
        #expect(creatorNice == 19)
        #expect(worker.idle)
    }

    @Test("idle puts the workers under SCHED_IDLE")
    func idlePolicy() throws {
        let pool = WorkerPool(name: "test-pool", size: 2, capacity: 4, priority: .idle)
        defer { pool.shutdown() }
        #expect(pool.priorityError == nil)
        #expect(try Self.observe(pool).idle)
        #expect(!ThreadPriority.currentThread().idle)  // the creator keeps its own policy
    }
}
