/// A TLS failure: configuration (unreadable certificate, key mismatch) or a failed handshake/record.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
