#if canImport(Glibc)
import Glibc
#endif

/// How much lower than the event loops a helper thread runs (worker pool, registry loader).
///
/// Linux keeps the nice value and the scheduling policy per thread, and a new thread inherits both from its
/// creator: the event loops run at whatever nice value the server was started with. Priorities are therefore
/// set *relative* to the thread's own inherited value: a server started with `nice -n 19` would otherwise see an
/// absolute "nice 5" make its workers run ahead of its own loops, the opposite of the intent.
public enum ThreadPriority: Sendable, Equatable {
    /// The inherited nice value plus this increment (clamped to 19, the lowest). The loops win a shared core in
    /// proportion to the weights (nice +5 is about 1/3 of a loop's share). A thread that already runs at nice 19
    /// (a server started with `nice -n 19`) has no lower nice value left: a positive increment then means
    /// ``idle``, so the helper still yields to the loops.
    case nicer(Int32)
    /// `SCHED_IDLE`: the thread runs only when no normal thread wants the core, and a loop thread that wakes up
    /// preempts it at once. The strongest isolation; under full CPU load from elsewhere, the thread's work waits.
    case idle

    /// Parses `--worker-priority`: a nice increment `0...19` or `idle`; nil for anything else.
    public init?(argument: String) {
        if argument == "idle" {
            self = .idle
        } else if let increment = Int32(argument), (0...19).contains(increment) {
            self = .nicer(increment)
        } else {
            return nil
        }
    }

    /// How it reads in logs and `--help`: `+5` or `idle`.
    public var description: String {
        switch self {
        case .nicer(let increment): return "+\(increment)"
        case .idle: return "idle"
        }
    }

    /// The Linux value of `SCHED_IDLE` (linux/sched.h); the Glibc module hides the macro behind `_GNU_SOURCE`.
    static let schedIdle: Int32 = 5

    /// Applies this priority to the calling thread. Returns nil on success, else what failed (with errno), for
    /// the caller to report: lowering one's own priority needs no privilege, so a failure means a sandbox
    /// (seccomp) refused it.
    @discardableResult
    public func applyToCurrentThread() -> String? {
        switch self {
        case .nicer(let increment):
            // `who == 0` is the calling thread on Linux. -1 is a valid nice value: errno tells failure apart.
            errno = 0
            let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            if current == -1 && errno != 0 { return "getpriority: errno \(errno)" }
            if increment > 0 && current >= 19 { return Self.idle.applyToCurrentThread() }
            let target = min(19, current + increment)
            guard target != current else { return nil }
            if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, target) != 0 {
                return "setpriority(\(target)): errno \(errno)"
            }
            return nil
        case .idle:
            var parameters = sched_param()
            parameters.sched_priority = 0
            if sched_setscheduler(0, Self.schedIdle, &parameters) != 0 {
                return "sched_setscheduler(SCHED_IDLE): errno \(errno)"
            }
            return nil
        }
    }

    /// The calling thread's nice value and scheduling policy (for tests and diagnostics).
    public static func currentThread() -> (nice: Int32, idle: Bool) {
        let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        return (nice, sched_getscheduler(0) == schedIdle)
    }
}
