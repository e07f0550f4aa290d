public import ONNXFormat

/// How the engine stores the elements of a value at run time.
///
/// Integer and boolean ONNX types are held as Int64; `bool` keeps its own kind so outputs report it.
public enum ElementKind: Sendable, Equatable, CustomStringConvertible {
    /// 32-bit floats, in `Slot.f`.
    case float
    /// 64-bit floats, in `Slot.d`.
    case double
    /// Every integral ONNX type (int8 to uint64), widened to Int64 in `Slot.i`.
    case int64
    /// Booleans as 0 and 1 in `Slot.i`.
    case bool
    /// Strings, in `Slot.s`.
    case string
    /// A ZipMap output: `seq(map(key, float))`, stored as a rows × classes float block plus the keys.
    case mapSequence

    /// The storage kind of an ONNX element type; nil for types the engine does not support (float16, complex, ...).
    init?(_ type: ONNXDataType) {
        switch type {
        case .float: self = .float
        case .double: self = .double
        case .bool: self = .bool
        case .string: self = .string
        default:
            if type.isIntegral { self = .int64 } else { return nil }
        }
    }

    /// The ONNX-style name used in error messages (`float`, `int64`, `seq(map)`, ...).
    public var description: String {
        switch self {
        case .float: return "float"
        case .double: return "double"
        case .int64: return "int64"
        case .bool: return "bool"
        case .string: return "string"
        case .mapSequence: return "seq(map)"
        }
    }

    /// Whether arithmetic applies (everything but strings and ZipMap outputs).
    var isNumeric: Bool { self == .float || self == .double || self == .int64 || self == .bool }
}
