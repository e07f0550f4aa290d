/// A rollout command that could not be carried out. The service layer maps ``Code`` to a gRPC status.
public struct RolloutError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Opaque so kinds can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: Hashable, Sendable {
            case invalidArgument, failedPrecondition, notFound, internalError, aborted
        }
        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// Bad parameters (weights, versions, steps): `INVALID_ARGUMENT`.
        public static let invalidArgument = Code(.invalidArgument)
        /// The command does not fit the rollout's state (a second START, PAUSE when not running):
        /// `FAILED_PRECONDITION`.
        public static let failedPrecondition = Code(.failedPrecondition)
        /// No such model, version or rollout: `NOT_FOUND`.
        public static let notFound = Code(.notFound)
        /// Persistence or the registry failed: `INTERNAL`.
        public static let internalError = Code(.internalError)
        /// Another replica changed the rollout between this replica's read and its write (the generation
        /// check failed twice in a row): `ABORTED`, retry.
        public static let aborted = Code(.aborted)

        /// The kind in words (`invalid argument`, `aborted`, ...), used as the prefix of `RolloutError.description`.
        public var description: String {
            switch wrapped {
            case .invalidArgument: "invalid argument"
            case .failedPrecondition: "failed precondition"
            case .notFound: "not found"
            case .internalError: "internal"
            case .aborted: "aborted"
            }
        }
    }

    /// The kind of failure; decides the gRPC status.
    public var code: Code
    /// A message a person can act on.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `<code>: <message>`, for logs and the CLI.
    public var description: String { "\(code): \(message)" }

    /// Shorthand for an `.invalidArgument` error.
    static func invalid(_ message: String) -> RolloutError { RolloutError(.invalidArgument, message) }
    /// Shorthand for a `.failedPrecondition` error.
    static func precondition(_ message: String) -> RolloutError { RolloutError(.failedPrecondition, message) }
}
