/// The framed bytes of a unary response: each message is written with gRPC's 5-byte prefix
/// (compressed flag, 4-byte big-endian length), ready to go into DATA frames.
///
/// The transport lends a buffer from a pool to each call and takes it back afterwards, so
/// a handler that serializes straight into it allocates nothing.
public struct ResponseBuffer: Sendable {
    /// The framed bytes.
    public private(set) var bytes: [UInt8]

    /// An empty buffer with room for `capacity` bytes (prefix included) before it must grow.
    public init(reservingCapacity capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends one message whose payload is exactly `count` bytes, written by `fill`.
    public mutating func appendMessage(
        count: Int, _ fill: (UnsafeMutableRawBufferPointer) throws -> Void
    ) rethrows {
        let start = bytes.count
        let length = UInt32(truncatingIfNeeded: count)
        bytes.append(0)
        bytes.append(UInt8(truncatingIfNeeded: length >> 24))
        bytes.append(UInt8(truncatingIfNeeded: length >> 16))
        bytes.append(UInt8(truncatingIfNeeded: length >> 8))
        bytes.append(UInt8(truncatingIfNeeded: length))
        bytes.append(contentsOf: repeatElement(0, count: count))
        try bytes.withUnsafeMutableBytes { all in
            try fill(UnsafeMutableRawBufferPointer(rebasing: all[(start + 5)...]))
        }
    }

    /// Appends one message with the given payload.
    public mutating func appendMessage(_ payload: some Collection<UInt8>) {
        appendMessage(count: payload.count) { out in
            _ = out.initializeMemory(as: UInt8.self, from: payload)
        }
    }

    /// Appends bytes as they are, without gRPC framing (the body of a plain HTTP answer to a non-gRPC request).
    public mutating func appendUnframed(_ payload: some Collection<UInt8>) { bytes.append(contentsOf: payload) }

    /// Empties the buffer and keeps its capacity (for pooling).
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// True when nothing has been written: no message, not even an empty one (which still has its 5-byte prefix).
    public var isEmpty: Bool { bytes.isEmpty }
}
