import Synchronization

/// Admission counters shared by every loop of one server: open connections (checked at accept) and the calls
/// each loop has in flight off its thread. Reading them is a relaxed atomic load; nothing here takes a lock.
final class ServerLimits: Sendable {
    /// Open connections across all loops.
    let connections = Atomic<Int>(0)
    /// Connections refused because the server was at ``GRPCServerConfiguration/maxConnections``.
    let refusedConnections = Atomic<Int>(0)
    /// Calls refused because their loop was at ``GRPCServerConfiguration/maxInflightCallsPerLoop``.
    let refusedCalls = Atomic<Int>(0)
    let maxConnections: Int

    init(maxConnections: Int) { self.maxConnections = maxConnections }

    /// Takes a connection slot, or returns false (and counts the refusal) when the server is full.
    func admitConnection() -> Bool {
        let now = connections.wrappingAdd(1, ordering: .relaxed).newValue
        if now > maxConnections {
            connections.wrappingSubtract(1, ordering: .relaxed)
            refusedConnections.wrappingAdd(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Gives a connection slot back.
    func connectionClosed() { connections.wrappingSubtract(1, ordering: .relaxed) }
}

/// The frames a cleartext client gets when the server is full: the server's (empty) SETTINGS, then
/// GOAWAY(last stream 0, ENHANCE_YOUR_CALM) with a reason, so a client knows not to retry at once.
enum RefusalFrames {
    static let cleartext: [UInt8] = {
        let reason = Array("server is at its connection limit".utf8)
        var bytes: [UInt8] = [0, 0, 0, 4, 0, 0, 0, 0, 0]  // SETTINGS, no parameters
        let length = 8 + reason.count
        bytes += [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), 7, 0, 0, 0, 0, 0]
        bytes += [0, 0, 0, 0, 0, 0, 0, 0x0b]  // last stream 0, ENHANCE_YOUR_CALM
        return bytes + reason
    }()
}

/// Calls one loop has deferred off its thread, against the loop's cap. Touched only on the loop's thread.
final class InflightCalls {
    var count = 0
    let limit: Int
    /// The server-wide refusal counter.
    let limits: ServerLimits

    init(limit: Int, limits: ServerLimits) {
        self.limit = limit
        self.limits = limits
    }
}
