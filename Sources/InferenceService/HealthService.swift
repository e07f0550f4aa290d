public import GRPCCore
import SluiceProto
import Synchronization

/// Serving status per service name, settable from any thread. The empty name is the server as a whole.
public final class HealthStatusTable: Sendable {
    /// Mirrors `grpc.health.v1.HealthCheckResponse.ServingStatus` without exposing the message type.
    public enum Status: Sendable, Equatable {
        case serving
        case notServing
    }

    private let statuses: Mutex<[String: Status]>
    /// The whole server's status, readable without the lock (it is what load balancers poll): 1 serving, 2 not.
    private let overall = Atomic<UInt8>(1)

    /// Starts with the whole server ("") SERVING.
    public init() { statuses = Mutex(["": .serving]) }

    /// Sets the status of `service` ("" for the whole server).
    public func set(_ service: String, _ status: Status) {
        statuses.withLock { table in
            table[service] = status
            if service.isEmpty { overall.store(status == .serving ? 1 : 2, ordering: .releasing) }
        }
    }

    /// Marks every known service NOT_SERVING (used while draining).
    public func setAllNotServing() {
        statuses.withLock { table in
            for key in table.keys { table[key] = .notServing }
            overall.store(2, ordering: .releasing)
        }
    }

    /// The status of `service`, `nil` when it is unknown.
    public func status(of service: String) -> Status? {
        if service.isEmpty { return overall.load(ordering: .acquiring) == 1 ? .serving : .notServing }
        return statuses.withLock { $0[service] }
    }
}

/// `grpc.health.v1.Health`: `Check` answers from a ``HealthStatusTable``; `Watch` (server streaming, which the
/// transport does not offer) answers UNIMPLEMENTED.
public struct HealthService: GRPCService {
    public let serviceName = "grpc.health.v1.Health"
    public let table: HealthStatusTable

    public init(table: HealthStatusTable) { self.table = table }

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
            UnaryMethod("Watch") { _, _, _ in
                .failure(
                    RPCError(
                        .unimplemented,
                        "grpc.health.v1.Health/Watch is not supported (this server has no streaming calls); poll Check"
                    ))
            },
        ]
    }
}
