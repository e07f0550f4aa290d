public import GRPCCore
import SluiceProto
import Synchronization

/// Serving status per service name, settable from any thread. The empty name is the server as a whole.
/// Watchers (health `Watch` streams) are told each change of the service they watch.
public final class HealthStatusTable: Sendable {
    /// Mirrors `grpc.health.v1.HealthCheckResponse.ServingStatus` without exposing the message type.
    public enum Status: Sendable, Equatable {
        case serving
        case notServing
    }

    /// A watcher of one service: `notify` gets each new status (`nil`: the service is unknown).
    private struct Watcher {
        let service: String
        var last: Status??
        let notify: @Sendable (Status?) -> Void
    }

    private struct Table {
        var statuses: [String: Status]
        var watchers: [UInt64: Watcher] = [:]
        var nextWatcher: UInt64 = 1
        /// Set by ``setAllNotServing()``: a draining server never turns SERVING again.
        var draining = false

        /// Tells the watchers of `service` (all when nil) whose last news differs from the table. Runs under the
        /// lock, so watchers see changes in order.
        mutating func notify(_ service: String?) {
            for (id, watcher) in watchers where service == nil || watcher.service == service {
                let now = statuses[watcher.service]
                if let last = watcher.last, last == now { continue }
                watchers[id]?.last = .some(now)
                watcher.notify(now)
            }
        }
    }

    private let table: Mutex<Table>
    /// The whole server's status, readable without the lock (it is what load balancers poll): 1 serving, 2 not.
    private let overall = Atomic<UInt8>(1)

    /// Starts with the whole server ("") SERVING.
    public init() { table = Mutex(Table(statuses: ["": .serving])) }

    /// Sets the status of `service` ("" for the whole server). Once draining, SERVING is ignored.
    public func set(_ service: String, _ status: Status) {
        table.withLock { table in
            if table.draining && status == .serving { return }
            table.statuses[service] = status
            if service.isEmpty { overall.store(status == .serving ? 1 : 2, ordering: .releasing) }
            if !table.watchers.isEmpty { table.notify(service) }
        }
    }

    /// Marks every known service NOT_SERVING (used while draining).
    public func setAllNotServing() {
        table.withLock { table in
            table.draining = true
            for key in table.statuses.keys { table.statuses[key] = .notServing }
            overall.store(2, ordering: .releasing)
            table.notify(nil)
        }
    }

    /// The status of `service`, `nil` when it is unknown.
    public func status(of service: String) -> Status? {
        if service.isEmpty { return overall.load(ordering: .acquiring) == 1 ? .serving : .notServing }
        return table.withLock { $0.statuses[service] }
    }

    /// Calls `notify` with the status of `service` now (`nil` when unknown), then on every change, until
    /// ``unwatch(_:)``. `notify` runs under the table's lock: it must not call back into the table.
    public func watch(_ service: String, notify: @escaping @Sendable (Status?) -> Void) -> UInt64 {
        table.withLock { table in
            let id = table.nextWatcher
            table.nextWatcher += 1
            table.watchers[id] = Watcher(service: service, last: nil, notify: notify)
            table.notify(service)
            return id
        }
    }

    /// Stops a watcher.
    public func unwatch(_ id: UInt64) {
        _ = table.withLock { $0.watchers.removeValue(forKey: id) }
    }

    /// Watchers now registered (open `Watch` streams), for the `sluice_health_watch_streams` gauge.
    public var watcherCount: Int { table.withLock { $0.watchers.count } }
}

/// `grpc.health.v1.Health`: `Check` answers from a ``HealthStatusTable``; `Watch` (server streaming) sends the
/// status at once and then every change, until the client cancels or the server drains. `Watch` streams are
/// capped per connection (`maxWatchStreamsPerConnection`).
public struct HealthService: GRPCService {
    public let serviceName = "grpc.health.v1.Health"
    public let table: HealthStatusTable
    private let watchLimit: StreamingCallLimit

    /// The default cap of `Watch` streams one connection may hold open.
    public static let defaultMaxWatchStreamsPerConnection = 16

    public init(table: HealthStatusTable, maxWatchStreamsPerConnection: Int = defaultMaxWatchStreamsPerConnection) {
        self.table = table
        self.watchLimit = StreamingCallLimit(
            maxPerConnection: maxWatchStreamsPerConnection,
            message:
                "this connection already has \(maxWatchStreamsPerConnection) grpc.health.v1.Health/Watch streams "
                + "open (maxWatchStreamsPerConnection); cancel one or watch from another connection")
    }

    public var streamingMethods: [StreamingMethod] {
        let table = self.table
        return [StreamingMethod("Watch", limit: watchLimit) { _, _ in .success(HealthWatchCall(table: table)) }]
    }

    public var methods: [UnaryMethod] {
        let table = self.table
        return [
            UnaryMethod("Check") { request, _, response in
                guard let message = HealthCheckRequest(decoding: request) else {
                    return .failure(
                        RPCError(
                            .invalidArgument,
                            "request is not a valid grpc.health.v1.HealthCheckRequest (\(request.count) bytes do "
                                + "not decode as protobuf)"))
                }
                guard let status = table.status(of: message.service) else {
                    let name = message.service.count > 200 ? message.service.prefix(200) + "..." : message.service
                    return .failure(RPCError(.notFound, "unknown service '\(name)'"))
                }
                HealthCheckResponse(status: status == .serving ? .serving : .notServing).encode(into: &response)
                return .ok
            },
        ]
    }
}

/// One `Watch` stream: subscribes on its request message, unsubscribes when the stream closes.
final class HealthWatchCall: StreamingCall {
    private let table: HealthStatusTable
    /// The watcher id once subscribed (touched on the loop thread only, but `Sendable` asks for a lock).
    private let watcher = Mutex<UInt64?>(nil)

    init(table: HealthStatusTable) { self.table = table }

    func received(_ message: UnsafeRawBufferPointer, writer: ServerStreamWriter) {
        guard watcher.withLock({ $0 }) == nil else {
            writer.finish(RPCError(.invalidArgument, "Watch takes exactly one HealthCheckRequest; got a second"))
            return
        }
        guard let request = HealthCheckRequest(decoding: message) else {
            writer.finish(
                RPCError(
                    .invalidArgument,
                    "request is not a valid grpc.health.v1.HealthCheckRequest (\(message.count) bytes do not decode "
                        + "as protobuf)"))
            return
        }
        let id = table.watch(request.service) { status in
            var response = ResponseBuffer(reservingCapacity: 16)
            let wire: HealthCheckResponse.ServingStatus =
                switch status {
                case .serving: .serving
                case .notServing: .notServing
                case nil: .serviceUnknown
                }
            HealthCheckResponse(status: wire).encode(into: &response)
            writer.send(response)
        }
        watcher.withLock { $0 = id }
    }

    func requestEnded(messages: Int, writer: ServerStreamWriter) {
        if messages == 0 {
            writer.finish(RPCError(.invalidArgument, "Watch needs one HealthCheckRequest; the request had none"))
        }
    }

    func closed() {
        if let id = watcher.withLock({ $0 }) { table.unwatch(id) }
    }
}
