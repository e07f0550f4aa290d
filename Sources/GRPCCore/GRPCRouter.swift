/// Maps `:path` (`/package.Service/Method`) to a handler.
///
/// Lookups compare raw bytes, so routing a request costs no allocation. Every service on the
/// port (Sluice's own, health, later the Open Inference Protocol) registers here.
public struct GRPCRouter: Sendable {
    /// The outcome of a lookup.
    public enum Route: Sendable {
        case method(UnaryMethod)
        case unknownService(String)
        case unknownMethod(service: String, method: String)
    }

    private struct Entry: Sendable {
        let path: [UInt8]
        let method: UnaryMethod
    }

    private let entries: [Entry]
    private let serviceNames: Set<String>

    public init(services: [any GRPCService]) {
        var entries: [Entry] = []
        var names = Set<String>()
        for service in services {
            names.insert(service.serviceName)
            for method in service.methods {
                entries.append(Entry(path: Array("/\(service.serviceName)/\(method.name)".utf8), method: method))
            }
        }
        self.entries = entries
        self.serviceNames = names
    }

    /// Finds the handler for a `:path` value given as raw bytes.
    public func route(path: UnsafeRawBufferPointer) -> Route {
        for entry in entries where entry.path.count == path.count {
            let equal = entry.path.withUnsafeBytes { candidate in
                candidate.elementsEqual(path)
            }
            if equal { return .method(entry.method) }
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
