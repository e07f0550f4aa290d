#if canImport(Glibc)
import Glibc
import Synchronization
#endif

/// The server's helper threads (model loading, rollout ticks, batching, admin listener, audit writer, file
/// watchers) start here, with every signal blocked inside them: SIGTERM, SIGINT and SIGHUP belong to the
/// server's signal handling, and must never be delivered to (and kill the process through) one of these threads,
/// whenever the thread is created relative to the server blocking its own signals.
public enum BackgroundThread {
    /// A started thread that can be waited for.
    public struct Handle: @unchecked Sendable {
        let thread: pthread_t

        /// Waits until the thread's body returns.
        public func join() { pthread_join(thread, nil) }

        /// Lets the system reclaim the thread when its body returns, for a thread nobody joins (one that signals
        /// its end another way). Without either, a finished thread keeps its stack until the process exits.
        public func detach() { pthread_detach(thread) }
    }

    /// Starts `body` on a new thread named `name` (at most 15 bytes are kept); nil if the system refuses.
    @discardableResult
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> Handle? {
        final class Box {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        // A new thread inherits its creator's mask at creation: block around the start...
        pthread_sigmask(SIG_BLOCK, &all, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let box = Unmanaged.passRetained(Box(body))
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { raw in
                // ...and again inside, so the guarantee does not depend on the creator.
                var mask = sigset_t()
                sigfillset(&mask)
                pthread_sigmask(SIG_BLOCK, &mask, nil)
                Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            return nil
        }
        setName(of: thread, to: name)
        return Handle(thread: thread)
    }

    /// Names `thread` as `top -H`, `perf` and /proc/PID/task/TID/comm show it; Linux keeps the first 15 bytes.
    public static func setName(of thread: pthread_t, to name: String) {
        let shortName = String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self)
        _ = shortName.withCString { setThreadName(thread, $0) }
    }
}

/// Nanoseconds on the monotonic clock (`CLOCK_MONOTONIC`), for latencies and deadlines.
@inlinable
public func monotonicNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// glibc's `pthread_setname_np` (a GNU extension the Glibc module does not export): names show in `top -H`, `perf`.
@_silgen_name("pthread_setname_np")
func setThreadName(_ thread: pthread_t, _ name: UnsafePointer<CChar>) -> Int32

/// Wall-clock time derived from the monotonic clock, so that a call that has read `monotonicNanos()` does not
/// read the wall clock too. The offset between the clocks is re-read at most once a second (so a stepped or
/// slewed wall clock is followed within a second); between re-reads the result is exact to well under a
/// millisecond.
public enum WallClock {
    private static let offsetNanos = Atomic<Int64>(measuredOffset())
    private static let measuredAt = Atomic<UInt64>(monotonicNanos())

    /// Seconds since the Unix epoch, read from the wall clock now.
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Seconds since the Unix epoch at the monotonic instant `monotonic` (a recent `monotonicNanos()`).
    @inline(__always)
    public static func seconds(atMonotonic monotonic: UInt64) -> Double {
        if Int64(bitPattern: monotonic &- measuredAt.load(ordering: .relaxed)) > 1_000_000_000 { remeasure(monotonic) }
        return Double(Int64(bitPattern: monotonic) &+ offsetNanos.load(ordering: .relaxed)) / 1e9
    }

    @inline(never)
    private static func remeasure(_ monotonic: UInt64) {
        measuredAt.store(monotonic, ordering: .relaxed)
        offsetNanos.store(measuredOffset(), ordering: .relaxed)
    }

    private static func measuredOffset() -> Int64 {
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let mono = monotonicNanos()
        return (Int64(wall.tv_sec) * 1_000_000_000 + Int64(wall.tv_nsec)) &- Int64(bitPattern: mono)
    }
}
