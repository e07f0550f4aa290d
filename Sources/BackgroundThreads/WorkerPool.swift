#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A fixed set of threads that run work too large for an event loop (big batches, first sight of a credential,
/// shadow runs), with a bounded queue: ``submit(_:)`` refuses work when the queue is full, so an overloaded
/// server sheds load at once instead of queueing without bound.
///
/// The threads run at a lower CPU priority than the event loops (``ThreadPriority``: this initializer's default is
/// nice +5 relative to the creating thread; `sluice serve` asks for ``ThreadPriority/idle`` unless told otherwise): when both want a core, the loops' short calls go first and a long batch waits, which is what keeps
/// one caller's 100,000-row batch from holding another caller's single row.
///
/// `@unchecked Sendable`: the only non-Sendable member is the POSIX semaphore, which is made for use from any
/// thread (initialized before the threads start, destroyed after they are joined or never).
public final class WorkerPool: @unchecked Sendable {
    /// Work that is queued but not yet started, plus whether the pool is stopping.
    private struct Queue {
        var items: [@Sendable () -> Void] = []
        var head = 0
        var stopping = false
        var count: Int { items.count - head }
    }

    private let queue = Mutex(Queue())
    /// Counts queued items; a worker waits on it.
    private let available: UnsafeMutablePointer<sem_t>
    private let threads: Mutex<[BackgroundThread.Handle]>
    /// Queued items beyond which ``submit(_:)`` refuses.
    public let capacity: Int
    /// Number of threads.
    public let size: Int
    /// Items refused because the queue was full.
    private let refused = Atomic<Int>(0)
    /// The priority the threads run at, relative to the thread that created the pool.
    public let priority: ThreadPriority
    /// Why a thread could not lower its priority (the first such failure), if one could not.
    private let priorityFailure = Mutex<String?>(nil)

    /// Why a thread could not take ``priority`` (e.g. a seccomp sandbox refused `setpriority`), nil when every
    /// started thread did (final once `init` returns: it waits for the threads to set it).
    public var priorityError: String? { priorityFailure.withLock { $0 } }

    /// How many items ``submit(_:)`` has refused because the queue was full.
    public var refusedCount: Int { refused.load(ordering: .relaxed) }

    /// Starts `size` threads named `name-N` at `priority`, with a queue of at most `capacity` waiting items.
    public init(name: String, size: Int, capacity: Int, priority: ThreadPriority = .nicer(5)) {
        self.size = max(1, size)
        self.capacity = max(1, capacity)
        self.priority = priority
        available = .allocate(capacity: 1)
        sem_init(available, 0, 0)
        threads = Mutex([])
        // Each thread lowers its own priority (Linux keeps it per thread) and counts itself `ready`; init waits for
        // all, so `priorityError` is final when it returns and no work runs at the loops' priority.
        let ready = ConditionLock(0)
        var started = 0
        for index in 0..<self.size {
            let handle = BackgroundThread.start(name: "\(name)-\(index)") { [self] in
                if let failure = priority.applyToCurrentThread() {
                    priorityFailure.withLock { $0 = $0 ?? failure }
                }
                ready.withLockSignalling { $0 += 1 }
                run()
            }
            if let handle {
                threads.withLock { $0.append(handle) }
                started += 1
            }
        }
        var allReady = false
        while !allReady {
            ready.wait { count in
                allReady = count >= started
                return allReady ? .no : .untilSignalled
            }
        }
    }

    deinit {
        sem_destroy(available)
        available.deallocate()
    }

    /// Queued items not yet started.
    public var queued: Int { queue.withLock { $0.count } }

    /// Queues `work`; false (and nothing queued) when the queue is full or the pool is stopping.
    public func submit(_ work: @escaping @Sendable () -> Void) -> Bool {
        let accepted = queue.withLock { queue -> Bool in
            guard !queue.stopping, queue.count < capacity else { return false }
            queue.items.append(work)
            return true
        }
        if accepted {
            sem_post(available)
        } else {
            refused.wrappingAdd(1, ordering: .relaxed)
        }
        return accepted
    }

    /// Lets queued work finish, then stops and joins the threads. Later ``submit(_:)`` calls are refused.
    public func shutdown() {
        queue.withLock { $0.stopping = true }
        for _ in 0..<size { sem_post(available) }
        let handles = threads.withLock { handles in
            defer { handles.removeAll() }
            return handles
        }
        for handle in handles { handle.join() }
    }

    private func run() {
        while true {
            while sem_wait(available) != 0 {}  // EINTR: wait again
            let next = queue.withLock { queue -> (@Sendable () -> Void)? in
                guard queue.count > 0 else { return nil }
                let item = queue.items[queue.head]
                queue.head += 1
                if queue.head > 64 && queue.head * 2 > queue.items.count {
                    queue.items.removeFirst(queue.head)
                    queue.head = 0
                }
                return item
            }
            guard let next else {
                if queue.withLock({ $0.stopping && $0.count == 0 }) { return }
                continue
            }
            next()
        }
    }
}
