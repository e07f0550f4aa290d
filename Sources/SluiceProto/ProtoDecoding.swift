internal import CProtobufC
#if canImport(Glibc)
internal import Glibc
#endif
internal import CSluiceProtoSupport

/// A request message that could not be decoded.
public struct ProtoDecodeError: Error, Sendable, CustomStringConvertible {
    /// The protobuf message type, e.g. `sluice.v1.PredictRequest`.
    public let messageType: String

    /// The message clients see in the INVALID_ARGUMENT status; names the type but not the bytes, which may be anything.
    public var description: String { "the request is not a valid \(messageType) message" }
}

/// Decoding runs on the calling thread's arena: everything a view points to lives until the
/// closure returns, then the arena is reset. Views must not escape the closure.
@inline(__always)
func withArenaDecoded<Message, Result>(
    _ bytes: UnsafeRawBufferPointer,
    messageType: String,
    unpack: (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Message>?,
    _ body: (UnsafeMutablePointer<Message>) throws -> Result
) throws -> Result {
    sluice_proto_arena_begin()
    defer { sluice_proto_arena_end() }
    let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
    // protobuf-c dereferences the data pointer even for length 0 on some paths: give it a valid one.
    var empty: UInt8 = 0
    let message: UnsafeMutablePointer<Message>? =
        if let base { unpack(sluice_proto_arena_allocator(), bytes.count, base) } else {
            withUnsafePointer(to: &empty) { unpack(sluice_proto_arena_allocator(), 0, $0) }
        }
    guard let message else { throw ProtoDecodeError(messageType: messageType) }
    return try body(message)
}

/// The bytes of a NUL-terminated C string from protobuf-c (never nil there, but be safe).
@inline(__always)
func cStringBytes(_ pointer: UnsafeMutablePointer<CChar>?) -> UnsafeRawBufferPointer {
    guard let pointer else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: pointer, count: strlen(pointer))
}

/// A Swift copy of a protobuf-c string, "" for nil; allocates unless the string is short, so keep it off the hot path.
@inline(__always)
func cString(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    guard let pointer else { return "" }
    return String(cString: pointer)
}

/// Runs `body` with a C string for `text` (no copy for native Swift strings).
@inline(__always)
func withCStringPointer<R>(_ text: String, _ body: (UnsafeMutablePointer<CChar>) throws -> R) rethrows -> R {
    try text.withCString { try body(UnsafeMutablePointer(mutating: $0)) }
}

/// Runs `body` inside an arena scope: memory from ``ArenaBuilder`` lives until it returns.
@inline(__always)
func withArenaScope<R>(_ body: (ArenaBuilder) throws -> R) rethrows -> R {
    sluice_proto_arena_begin()
    defer { sluice_proto_arena_end() }
    return try body(ArenaBuilder())
}

/// Allocates protobuf-c message graphs on the thread's arena (for encoding responses).
struct ArenaBuilder {
    /// Zeroed storage for `count` values of `T`.
    ///
    /// Only `malloc` failing can end this in a trap: what is allocated is bounded by the response being encoded,
    /// which the request size limit (4 MiB by default) bounds in turn, and Linux overcommits rather than failing
    /// such allocations. The same process would fail in any other allocation at that point.
    func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let bytes = max(1, count) * MemoryLayout<T>.stride
        guard let raw = sluice_proto_arena_alloc_zeroed(bytes) else { fatalError("out of memory") }
        return raw.bindMemory(to: T.self, capacity: max(1, count))
    }

    /// A NUL-terminated copy of `text`.
    func string(_ text: String) -> UnsafeMutablePointer<CChar> {
        var text = text
        return text.withUTF8 { utf8 in
            let out = allocate(CChar.self, count: utf8.count + 1)
            if utf8.count > 0 {
                UnsafeMutableRawPointer(out).copyMemory(from: utf8.baseAddress!, byteCount: utf8.count)
            }
            return out
        }
    }

    /// An array of NUL-terminated copies.
    func strings(_ texts: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let out = allocate(UnsafeMutablePointer<CChar>?.self, count: texts.count)
        for (index, text) in texts.enumerated() { out[index] = string(text) }
        return out
    }

    /// A copy of `values`.
    func array<T>(_ values: some Collection<T>) -> UnsafeMutablePointer<T> {
        let out = allocate(T.self, count: values.count)
        for (index, value) in values.enumerated() { out[index] = value }
        return out
    }
}

/// The fields every scoring request carries, as raw UTF-8 (valid inside the decode closure).
public protocol ScoringRequestView {
    /// The model name; may be empty when `version` is a model URI that names it.
    var model: UnsafeRawBufferPointer { get }
    /// The version selector as sent; empty means the routed default.
    var version: UnsafeRawBufferPointer { get }
    /// Sticky-routing key for rollouts; empty when not sent.
    var routingKey: UnsafeRawBufferPointer { get }
    /// The caller's request id; empty when the server should generate one.
    var requestID: UnsafeRawBufferPointer { get }
}
