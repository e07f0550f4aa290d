import Synchronization

/// A per-connection allowance of expensive work that a peer can make the server do by choosing what it sends,
/// such as a signature check for a credential no thread has seen before.
///
/// The transport gives each connection one budget (through ``CallContext/budget``); a service takes one unit
/// before it starts such work and refuses the call when none is left. A token bucket: `perSecond` units a
/// second, with a burst of the same size, so a well-behaved client that presents a handful of new tokens is
/// never refused while a peer cycling through fresh tokens gets at most `perSecond` checks a second per
/// connection. Only the rare, expensive path touches it; the lock is uncontended (one connection's calls are
/// dispatched on one loop thread).
public final class ConnectionBudget: Sendable {
    /// Units granted per second (and the burst).
    public let perSecond: Int
    private struct State {
        var units: Double
        var lastNanos: UInt64
    }
    private let state: Mutex<State>

    /// A full bucket of `perSecond` units (at least 1), at `nowNanos` on the monotonic clock.
    public init(perSecond: Int, nowNanos: UInt64) {
        self.perSecond = max(1, perSecond)
        state = Mutex(State(units: Double(self.perSecond), lastNanos: nowNanos))
    }

    /// Takes one unit at `nowNanos` (monotonic). Returns nil when granted, else the milliseconds until a unit is
    /// available again (at least 1).
    public func take(nowNanos: UInt64) -> Int? {
        let rate = Double(perSecond)
        return state.withLock { s in
            if nowNanos > s.lastNanos {
                s.units = min(rate, s.units + Double(nowNanos - s.lastNanos) / 1e9 * rate)
                s.lastNanos = nowNanos
            }
            if s.units >= 1 {
                s.units -= 1
                return nil
            }
            return max(1, Int(((1 - s.units) / rate * 1000).rounded(.up)))
        }
    }
}
