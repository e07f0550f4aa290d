/// ONNX element types (`TensorProto.DataType`).
public enum ONNXDataType: Int32, Sendable, Equatable, CustomStringConvertible {
    case undefined = 0, float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, string = 8
    case bool = 9, float16 = 10, double = 11, uint32 = 12, uint64 = 13, complex64 = 14, complex128 = 15
    case bfloat16 = 16

    public var description: String {
        switch self {
        case .undefined: return "undefined"
        case .float: return "float"
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .string: return "string"
        case .bool: return "bool"
        case .float16: return "float16"
        case .double: return "double"
        case .uint32: return "uint32"
        case .uint64: return "uint64"
        case .complex64: return "complex64"
        case .complex128: return "complex128"
        case .bfloat16: return "bfloat16"
        }
    }

    /// True for the integer and boolean types the engine widens to Int64.
    public var isIntegral: Bool {
        switch self {
        case .uint8, .int8, .uint16, .int16, .int32, .int64, .bool, .uint32, .uint64: return true
        default: return false
        }
    }
}

/// A constant tensor (initializer or attribute). Integer and boolean types are widened to Int64.
public struct ONNXTensor: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        case float([Float])
        case double([Double])
        case int64([Int64])
        case string([String])
    }

    public var name: String
    /// The declared element type.
    public var dataType: ONNXDataType
    public var dims: [Int]
    public var storage: Storage

    public init(name: String = "", dataType: ONNXDataType, dims: [Int], storage: Storage) {
        self.name = name
        self.dataType = dataType
        self.dims = dims
        self.storage = storage
    }

    /// Number of elements (product of dims; 1 for a scalar).
    public var count: Int { dims.reduce(1, *) }

    /// The values as Float (converted from double or integers).
    public var floatValues: [Float] {
        switch storage {
        case .float(let v): return v
        case .double(let v): return v.map { Float($0) }
        case .int64(let v): return v.map { Float($0) }
        case .string: return []
        }
    }

    /// The values as Int64 (floats truncated).
    public var int64Values: [Int64] {
        switch storage {
        case .float(let v): return v.map { $0.isFinite ? Int64($0) : 0 }
        case .double(let v): return v.map { $0.isFinite ? Int64($0) : 0 }
        case .int64(let v): return v
        case .string: return []
        }
    }
}
