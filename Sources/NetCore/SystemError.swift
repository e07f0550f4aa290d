internal import CSystemShims

#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call: what was attempted and the `errno` text.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let errno: Int32

    public init(_ operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        let text = strerror(errno).map { String(cString: $0) } ?? "errno \(errno)"
        return "\(operation): \(text)"
    }
}

/// The monotonic clock in nanoseconds (the clock deadlines use).
public func monotonicNanoseconds() -> UInt64 { csys_monotonic_ns() }
