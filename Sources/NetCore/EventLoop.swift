internal import CSystemShims
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Something registered with an ``EventLoop`` that reacts to readiness of its descriptor.
public protocol EventLoopHandler: AnyObject {
    /// Called on the loop thread with the ready ``EventLoop/Events``.
    func handleEvents(_ events: EventLoop.Events)
}

/// One epoll loop on one thread: descriptor readiness, cross-thread tasks woken through an eventfd, and
/// timers on the monotonic clock. Everything but ``execute(_:)`` and ``wake()`` must be called on the
/// loop's own thread.
public final class EventLoop: @unchecked Sendable {
    /// Readiness flags.
    public struct Events: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: CSYS_EPOLLIN)
        public static let writable = Events(rawValue: CSYS_EPOLLOUT)
        public static let error = Events(rawValue: CSYS_EPOLLERR)
        public static let hangup = Events(rawValue: CSYS_EPOLLHUP | CSYS_EPOLLRDHUP)
    }

    private let epollFD: Int32
    private let wakeFD: Int32
    private var handlers: [UInt64: any EventLoopHandler] = [:]
    private var nextToken: UInt64 = 1
    private static let wakeToken: UInt64 = 0
    private var running = false
    private let pending = Mutex<[@Sendable () -> Void]>([])
    private var timers = TimerHeap()
    /// Runs once per loop iteration after events and timers (e.g. to flush output).
    public var afterEvents: (() -> Void)?

    public init() throws(SystemError) {
        let epollFD = csys_epoll_create()
        guard epollFD >= 0 else { throw SystemError("epoll_create1", errno: errno) }
        let wakeFD = csys_eventfd()
        guard wakeFD >= 0 else {
            close(epollFD)
            throw SystemError("eventfd", errno: errno)
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        guard csys_epoll_ctl(epollFD, 0, wakeFD, CSYS_EPOLLIN, Self.wakeToken) == 0 else {
            throw SystemError("epoll_ctl(eventfd)", errno: errno)
        }
    }

    deinit {
        close(wakeFD)
        close(epollFD)
    }

    // MARK: - Descriptors

    /// Registers `fd` for `events`; returns the token to modify or remove it with.
    public func register(fd: Int32, events: Events, handler: any EventLoopHandler) throws(SystemError) -> UInt64 {
        let token = nextToken
        nextToken += 1
        guard csys_epoll_ctl(epollFD, 0, fd, events.rawValue, token) == 0 else {
            throw SystemError("epoll_ctl(add)", errno: errno)
        }
        handlers[token] = handler
        return token
    }

    /// Changes the events watched for a registered descriptor.
    public func modify(fd: Int32, token: UInt64, events: Events) {
        _ = csys_epoll_ctl(epollFD, 1, fd, events.rawValue, token)
    }

    /// Stops watching `fd` (call before closing it).
    public func deregister(fd: Int32, token: UInt64) {
        _ = csys_epoll_ctl(epollFD, 2, fd, 0, token)
        handlers[token] = nil
    }

    // MARK: - Cross-thread tasks

    /// Runs `task` on the loop thread soon; callable from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        pending.withLock { $0.append(task) }
        csys_eventfd_signal(wakeFD)
    }

    /// Wakes the loop (from any thread) without a task.
    public func wake() { csys_eventfd_signal(wakeFD) }

    // MARK: - Timers

    /// Runs `action` on the loop thread at `deadline` (monotonic nanoseconds) or soon after.
    public func schedule(at deadline: UInt64, _ action: @escaping () -> Void) {
        timers.push(deadline: deadline, action: action)
    }

    // MARK: - Running

    /// Runs until ``stop()``.
    public func run() {
        running = true
        var events = [csys_event](repeating: csys_event(), count: 128)
        while running {
            var timeout: Int32 = -1
            if let next = timers.nextDeadline {
                let now = csys_monotonic_ns()
                timeout = next <= now ? 0 : Int32(min((next - now + 999_999) / 1_000_000, 60_000))
            }
            let count = events.withUnsafeMutableBufferPointer {
                csys_epoll_wait(epollFD, $0.baseAddress, Int32($0.count), timeout)
            }
            if count > 0 {
                for index in 0..<Int(count) {
                    let event = events[index]
                    if event.token == Self.wakeToken {
                        csys_eventfd_drain(wakeFD)
                        runPendingTasks()
                    } else if let handler = handlers[event.token] {
                        handler.handleEvents(Events(rawValue: event.events))
                    }
                }
            }
            if timers.nextDeadline != nil { runDueTimers() }
            afterEvents?()
        }
    }

    /// Makes ``run()`` return after the current iteration (loop thread), or wakes it to do so (via ``execute(_:)``).
    public func stop() { running = false }

    private func runPendingTasks() {
        let tasks = pending.withLock { tasks -> [@Sendable () -> Void] in
            let taken = tasks
            tasks.removeAll(keepingCapacity: true)
            return taken
        }
        for task in tasks { task() }
    }

    private func runDueTimers() {
        let now = csys_monotonic_ns()
        while let next = timers.nextDeadline, next <= now {
            timers.pop()?()
        }
    }
}
