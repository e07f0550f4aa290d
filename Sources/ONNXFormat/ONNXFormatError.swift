/// Why a file could not be loaded as an ONNX model. The message names the node, op or tensor at fault.
public struct ONNXFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
