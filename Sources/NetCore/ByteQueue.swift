/// A coalescing byte queue: appends at the end, consumes from the front, and compacts lazily.
///
/// Used for socket output (everything a connection wants to send goes in here and leaves in as few
/// `write` calls as possible) and for TLS plaintext/ciphertext staging.
public struct ByteQueue: Sendable {
    @usableFromInline var storage: [UInt8] = []
    @usableFromInline var readIndex = 0

    public init(reservingCapacity capacity: Int = 0) { storage.reserveCapacity(capacity) }

    /// Bytes waiting to be consumed.
    @inlinable public var count: Int { storage.count - readIndex }
    @inlinable public var isEmpty: Bool { storage.count == readIndex }

    /// Appends `count` bytes from `pointer`.
    @inlinable public mutating func append(_ pointer: UnsafeRawPointer, count: Int) {
        guard count > 0 else { return }
        compactIfWorthwhile()
        storage.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: count))
    }

    @inlinable public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        append(base, count: bytes.count)
    }

    @inlinable public mutating func append(_ bytes: [UInt8]) {
        compactIfWorthwhile()
        storage.append(contentsOf: bytes)
    }

    /// Lends the readable bytes.
    @inlinable public func withReadableBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { all in try body(UnsafeRawBufferPointer(rebasing: all[readIndex...])) }
    }

    /// Drops `count` bytes from the front.
    @inlinable public mutating func consume(_ count: Int) {
        readIndex += min(count, self.count)
        if readIndex == storage.count {
            storage.removeAll(keepingCapacity: true)
            readIndex = 0
        }
    }

    /// Removes and returns everything (tests).
    public mutating func removeAll() -> [UInt8] {
        let bytes = Array(storage[readIndex...])
        storage.removeAll(keepingCapacity: true)
        readIndex = 0
        return bytes
    }

    @inlinable mutating func compactIfWorthwhile() {
        if readIndex > 0 && readIndex >= storage.count / 2 {
            storage.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }
}
