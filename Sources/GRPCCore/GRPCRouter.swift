/// Maps `:path` (`/package.Service/Method`) to a handler.
///
/// Lookups compare raw bytes, so routing a request costs no allocation. Every service on the
/// port (Sluice's own, health, later the Open Inference Protocol) registers here.
public struct GRPCRouter: Sendable {
    /// The outcome of a lookup.
    public enum Route: Sendable {
        case method(UnaryMethod)
        /// A streaming method (checked after every unary one, so unary lookups cost the same as before).
        case streaming(StreamingMethod)
        case unknownService(String)
        case unknownMethod(service: String, method: String)
    }

    private struct Entry: Sendable {
        let path: [UInt8]
        let method: UnaryMethod
    }

    private struct StreamingEntry: Sendable {
        let path: [UInt8]
        let method: StreamingMethod
    }

    private let entries: [Entry]
    private let streamingEntries: [StreamingEntry]
    private let serviceNames: Set<String>
    /// Every service this router serves, sorted (what server reflection lists).
    public let services: [String]

    public init(services: [any GRPCService]) {
        var entries: [Entry] = []
        var streaming: [StreamingEntry] = []
        var names = Set<String>()
        for service in services {
            names.insert(service.serviceName)
            for method in service.methods {
                entries.append(Entry(path: Array("/\(service.serviceName)/\(method.name)".utf8), method: method))
            }
            for method in service.streamingMethods {
                streaming.append(
                    StreamingEntry(path: Array("/\(service.serviceName)/\(method.name)".utf8), method: method))
            }
        }
        self.entries = entries
        self.streamingEntries = streaming
        self.serviceNames = names
        self.services = names.sorted()
    }

    /// Finds the handler for a `:path` value given as raw bytes.
    public func route(path: UnsafeRawBufferPointer) -> Route {
        for entry in entries where entry.path.count == path.count {
            let equal = entry.path.withUnsafeBytes { candidate in
                candidate.elementsEqual(path)
            }
            if equal { return .method(entry.method) }
        }
        for entry in streamingEntries where entry.path.count == path.count {
            if entry.path.withUnsafeBytes({ $0.elementsEqual(path) }) { return .streaming(entry.method) }
        }
        let text = String(decoding: path, as: UTF8.self)
        let trimmed = text.hasPrefix("/") ? text.dropFirst() : Substring(text)
        let parts = trimmed.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let service = parts.first.map(String.init) ?? ""
        if parts.count == 2, serviceNames.contains(service) {
            return .unknownMethod(service: service, method: String(parts[1]))
        }
        return .unknownService(service)
    }

    /// Convenience for tests and callers holding a `String`.
    public func route(path: String) -> Route {
        var copy = path
        return copy.withUTF8 { route(path: UnsafeRawBufferPointer($0)) }
    }
}
