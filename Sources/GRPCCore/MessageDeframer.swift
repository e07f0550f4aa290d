/// Splits a request body into gRPC messages: 1 flag byte, 4-byte big-endian length, payload.
///
/// Sans-IO: feed it DATA payloads as they arrive (frame boundaries are arbitrary) and pull complete
/// messages. The length prefix is checked against the limit as soon as it is complete, so an oversized
/// message is refused before its bytes are buffered.
public struct MessageDeframer: Sendable {
    /// One complete message.
    public struct Message: Sendable, Equatable {
        /// The compressed flag (byte 0 of the prefix was 1).
        public var compressed: Bool
        /// The message bytes after the 5-byte prefix, still compressed when `compressed` is set.
        public var payload: [UInt8]

        public init(compressed: Bool, payload: [UInt8]) {
            self.compressed = compressed
            self.payload = payload
        }
    }

    /// Why the byte stream is not a valid sequence of messages.
    public enum Failure: Error, Equatable, Sendable {
        /// A message declares more bytes than the limit allows.
        case tooLarge(declared: Int, limit: Int)
        /// The flag byte is neither 0 nor 1.
        case invalidFlag(UInt8)
        /// The body ended in the middle of a message (`buffered` bytes left over).
        case truncated(buffered: Int)

        /// The status and message a server answers with.
        public var rpcError: RPCError {
            switch self {
            case .tooLarge(let declared, let limit):
                return RPCError(
                    .resourceExhausted,
                    "request message is \(declared) bytes, larger than the server's limit of \(limit) bytes")
            case .invalidFlag(let flag):
                return RPCError(.internal, "invalid gRPC message prefix: compressed flag byte is \(flag), not 0 or 1")
            case .truncated(let buffered):
                return RPCError(
                    .internal, "request body ended inside a gRPC message (\(buffered) bytes of an incomplete message)")
            }
        }
    }

    /// The largest payload accepted (the transport's `--max-message-bytes`).
    public let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0

    public init(maxMessageBytes: Int) { self.maxMessageBytes = maxMessageBytes }

    /// Bytes the buffer holds, consumed ones included (for tests of compaction).
    public var retainedByteCount: Int { buffer.count }

    /// Bytes the buffer can hold before it must grow (for tests of the up-front sizing of large messages).
    public var capacity: Int { buffer.capacity }

    /// Bytes held that do not yet form a complete message.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Appends received bytes. Throws as soon as a complete prefix is invalid or over the limit.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        if readIndex > 0 && readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        } else if readIndex >= 64 << 10 {
            // A long stream (many messages, frames ending mid-message) must not keep every consumed byte.
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        reserveForLargeMessage(adding: bytes.count)
        buffer.append(contentsOf: bytes)
        try checkPrefix()
    }

    /// Buffered bytes of one message after which the buffer is sized for the whole message at once.
    public static let reserveAfterBytes = 256 << 10

    /// Sizes the buffer for the whole current message once its prefix is valid and at least
    /// ``reserveAfterBytes`` of it arrived. Growing by doubling instead would copy the bytes received so far (and
    /// fault in a fresh buffer) at every step, up to a millisecond of one event-loop turn for a multi-megabyte
    /// message. Waiting for 256 KiB first keeps what a peer can make the server reserve (address space, not yet
    /// memory) proportional to what it actually sent.
    private mutating func reserveForLargeMessage(adding count: Int) {
        guard buffer.count - readIndex + count >= Self.reserveAfterBytes, buffer.count - readIndex >= 5 else { return }
        let length = declaredLength(at: readIndex)
        guard buffer[readIndex] <= 1, length <= maxMessageBytes else { return }  // `checkPrefix` refuses these
        let needed = readIndex + 5 + length
        if buffer.capacity < needed { buffer.reserveCapacity(needed) }
    }

    /// Appends received bytes (convenience for tests).
    public mutating func append(_ bytes: [UInt8]) throws(Failure) {
        var result: Result<Void, Failure> = .success(())
        bytes.withUnsafeBytes { raw in
            do throws(Failure) { try append(raw) } catch { result = .failure(error) }
        }
        try result.get()
    }

    private func checkPrefix() throws(Failure) {
        guard buffer.count - readIndex >= 5 else { return }
        let flag = buffer[readIndex]
        guard flag <= 1 else { throw .invalidFlag(flag) }
        let length = declaredLength(at: readIndex)
        guard length <= maxMessageBytes else { throw .tooLarge(declared: length, limit: maxMessageBytes) }
    }

    private func declaredLength(at index: Int) -> Int {
        Int(buffer[index + 1]) << 24 | Int(buffer[index + 2]) << 16 | Int(buffer[index + 3]) << 8
            | Int(buffer[index + 4])
    }

    /// The next complete message, or `nil` when more bytes are needed.
    public mutating func next() throws(Failure) -> Message? {
        try checkPrefix()
        guard buffer.count - readIndex >= 5 else { return nil }
        let length = declaredLength(at: readIndex)
        guard buffer.count - readIndex - 5 >= length else { return nil }
        let start = readIndex + 5
        let message = Message(compressed: buffer[readIndex] == 1, payload: Array(buffer[start..<start + length]))
        readIndex = start + length
        return message
    }

    /// The total size (prefix + payload) of the next message when its prefix is complete.
    public var nextMessageSpan: Int? {
        guard buffer.count - readIndex >= 5 else { return nil }
        return 5 + declaredLength(at: readIndex)
    }

    /// Reads the next complete message in place, without copying, and consumes it. The pointer is valid only
    /// inside `body`. Returns `nil` (without calling `body`) when no complete message is buffered.
    public mutating func withNextMessage<R>(
        _ body: (_ compressed: Bool, _ payload: UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        guard let (compressed, start, length) = try nextComplete() else { return nil }
        readIndex = start + length
        return try buffer.withUnsafeBytes { all in
            try body(compressed, UnsafeRawBufferPointer(rebasing: all[start..<start + length]))
        }
    }

    /// Where the next complete message lies (its compressed flag, payload start and length), after checking its
    /// prefix; nil when no complete message is buffered. Consumes nothing.
    private func nextComplete() throws(Failure) -> (compressed: Bool, start: Int, length: Int)? {
        try checkPrefix()
        guard buffer.count - readIndex >= 5 else { return nil }
        let length = declaredLength(at: readIndex)
        guard buffer.count - readIndex - 5 >= length else { return nil }
        return (buffer[readIndex] == 1, readIndex + 5, length)
    }

    /// Removes the next complete message together with the buffer it lies in, without copying it: the deframer
    /// keeps only the bytes after it (copied into a new buffer). For a message that fills the buffer (a unary
    /// request) this hands over the receive buffer the deframer would otherwise free. `nil` when no complete
    /// message is buffered.
    public mutating func takeNextMessage() throws(Failure)
        -> (compressed: Bool, storage: [UInt8], payload: Range<Int>)?
    {
        guard let (compressed, start, length) = try nextComplete() else { return nil }
        var storage: [UInt8] = []
        swap(&storage, &buffer)
        readIndex = 0
        if storage.count > start + length { buffer.append(contentsOf: storage[(start + length)...]) }
        return (compressed, storage, start..<start + length)
    }

    /// Checks that the body ended on a message boundary.
    public func finish() throws(Failure) {
        if bufferedByteCount != 0 { throw .truncated(buffered: bufferedByteCount) }
    }

    /// Forgets everything (for pooling); keeps capacity up to `maxKeptCapacity` bytes so that one large request
    /// does not pin its buffer in a pool forever.
    public mutating func reset(maxKeptCapacity: Int = 64 << 10) {
        buffer.removeAll(keepingCapacity: buffer.capacity <= maxKeptCapacity)
        readIndex = 0
    }
}
