/// Custom request metadata: the headers a handler may read (`authorization`, `x-api-key`, `x-request-id`, ...).
///
/// The transport consumes the protocol headers itself (pseudo-headers, `content-type`, `te`, `grpc-timeout`,
/// `grpc-encoding`, `grpc-accept-encoding`, `user-agent`) and hands everything else over here, so a plain
/// request costs no `String` at all. Names are lower-case, as HTTP/2 requires.
public struct Metadata: Sendable, Sequence {
    public typealias Element = (name: String, value: String)

    @usableFromInline var entries: [Element]

    public init() { entries = [] }

    public init(_ entries: [Element]) { self.entries = entries }

    public mutating func append(name: String, value: String) { entries.append((name, value)) }

    public mutating func removeAll() { entries.removeAll(keepingCapacity: true) }

    /// The first value for `name` (lower-case), if any.
    public func first(_ name: String) -> String? {
        for entry in entries where entry.name == name { return entry.value }
        return nil
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    public func makeIterator() -> IndexingIterator<[Element]> { entries.makeIterator() }
}
