public import ONNXFormat

/// A model that cannot be loaded or compiled, or a request the model cannot score.
///
/// Load-time messages name the node, the op and the reason:
/// `node "TreeEnsembleClassifier_3": op ai.onnx.ml.SVMClassifier is not supported`.
public struct EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure; `InferenceService` maps each kind to a gRPC status.
    public enum Kind: Sendable, Equatable {
        /// The file is not a valid ONNX model (parse or container validation failed).
        case invalidModel
        /// The model uses something the engine does not implement.
        case unsupported
        /// The request does not match the model signature (wrong columns, types, NaN where not allowed, ...).
        case invalidInput
        /// Evaluation failed on these inputs (for example an index out of range in Gather).
        case evaluation
    }

    /// What kind of failure this is.
    public var kind: Kind
    /// A human-readable message, shown to the client and in logs as it is.
    public var message: String

    /// An error of `kind` with a message for the client.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message, so that interpolating an error shows what went wrong.
    public var description: String { message }

    /// An error about one node, prefixed with the node's name and its qualified op (`invalidModel` unless told
    /// otherwise).
    static func node(_ node: ONNXNode, _ reason: String, kind: Kind = .invalidModel) -> EngineError {
        EngineError(kind, "node \"\(node.name)\": op \(node.qualifiedOp): \(reason)")
    }

    /// An `.unsupported` error naming the node and its op, with `reason` or "is not supported".
    static func unsupported(_ node: ONNXNode, _ reason: String? = nil) -> EngineError {
        if let reason { return EngineError(.unsupported, "node \"\(node.name)\": op \(node.qualifiedOp): \(reason)") }
        return EngineError(.unsupported, "node \"\(node.name)\": op \(node.qualifiedOp) is not supported")
    }

    /// An `.evaluation` error raised by the kernel of the node called `name` while running.
    static func eval(_ name: String, _ reason: String) -> EngineError {
        EngineError(.evaluation, "node \"\(name)\": \(reason)")
    }

    /// An `.invalidInput` error: the request does not fit the model.
    static func input(_ reason: String) -> EngineError { EngineError(.invalidInput, reason) }
}
