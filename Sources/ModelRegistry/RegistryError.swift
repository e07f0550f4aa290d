/// Why a registry operation or lookup failed. The service layer maps `code` to a gRPC status.
public struct RegistryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String { case notFound, invalidArgument, failedPrecondition, unavailable, io }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The model, version, alias or stage does not exist.
        public static let notFound = Code(.notFound)
        /// A malformed name, selector or value.
        public static let invalidArgument = Code(.invalidArgument)
        /// The target exists but is not in a state that allows the operation (not loaded, failed, ...).
        public static let failedPrecondition = Code(.failedPrecondition)
        /// Loading; try again shortly.
        public static let unavailable = Code(.unavailable)
        /// The registry's files could not be read or written.
        public static let io = Code(.io)

        /// The code's name (`notFound`, `io`, ...), for logs.
        public var description: String { wrapped.rawValue }
    }

    /// The kind of failure; decides the gRPC status.
    public let code: Code
    /// A complete sentence for the client and the log, naming the model or file involved.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Just the message; the code is reported separately as the status.
    public var description: String { message }
}
