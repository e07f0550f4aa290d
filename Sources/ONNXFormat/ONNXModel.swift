/// A parsed, validated ONNX model: the graph in plain Swift values, independent of protobuf-c.
///
/// Build one with `ONNXModel(bytes:)` or `ONNXModel(contentsOf:)`. Parsing checks the container (IR version,
/// opset imports, tensors defined before use, no cycles, initializer sizes); whether every op can run is
/// decided by the engine that compiles the graph.
public struct ONNXModel: Sendable {
    /// The IR version the file declares.
    public var irVersion: Int64
    /// Opset version per domain; the default domain is stored as `"ai.onnx"`.
    public var opsets: [String: Int64]
    public var producerName: String
    public var producerVersion: String
    /// `metadata_props` of the model.
    public var metadata: [String: String]
    public var graph: ONNXGraph

    public init(
        irVersion: Int64, opsets: [String: Int64], producerName: String = "", producerVersion: String = "",
        metadata: [String: String] = [:], graph: ONNXGraph
    ) {
        self.irVersion = irVersion
        self.opsets = opsets
        self.producerName = producerName
        self.producerVersion = producerVersion
        self.metadata = metadata
        self.graph = graph
    }

    /// The IR versions this loader was written against (ONNX 1.0 through 1.18). Older files are refused; newer
    /// ones load when they use nothing the engine does not know (anything new is refused where it is used).
    public static let supportedIRVersions: ClosedRange<Int64> = 3...11

    /// True when `irVersion` is newer than the newest version this loader was written against.
    public var isNewerThanKnownIR: Bool { irVersion > Self.supportedIRVersions.upperBound }

    /// Normalises a node or opset domain: `""` and `"ai.onnx"` are the same domain.
    public static func canonicalDomain(_ domain: String) -> String {
        domain.isEmpty ? "ai.onnx" : domain
    }
}

/// A computation graph with nodes in an order where every tensor is produced before it is used.
public struct ONNXGraph: Sendable {
    public var name: String
    /// Nodes in topological order.
    public var nodes: [ONNXNode]
    /// Constant tensors by name.
    public var initializers: [String: ONNXTensor]
    /// Graph inputs that callers must feed (initializers listed as inputs are left out).
    public var inputs: [ONNXValueInfo]
    public var outputs: [ONNXValueInfo]

    public init(
        name: String, nodes: [ONNXNode], initializers: [String: ONNXTensor], inputs: [ONNXValueInfo],
        outputs: [ONNXValueInfo]
    ) {
        self.name = name
        self.nodes = nodes
        self.initializers = initializers
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// One operator application.
public struct ONNXNode: Sendable {
    public var name: String
    public var opType: String
    /// Canonical domain (`"ai.onnx"` for the default domain).
    public var domain: String
    /// Input tensor names; an empty name means an omitted optional input.
    public var inputs: [String]
    public var outputs: [String]
    public var attributes: [String: ONNXAttribute]

    public init(
        name: String, opType: String, domain: String, inputs: [String], outputs: [String],
        attributes: [String: ONNXAttribute] = [:]
    ) {
        self.name = name
        self.opType = opType
        self.domain = ONNXModel.canonicalDomain(domain)
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// `domain.op_type`, as used in error messages (`ai.onnx.ml.TreeEnsembleClassifier`).
    public var qualifiedOp: String { "\(domain).\(opType)" }
}

/// An attribute value.
public enum ONNXAttribute: Sendable, Equatable {
    case float(Float)
    case int(Int64)
    case string(String)
    case tensor(ONNXTensor)
    case floats([Float])
    /// Ints, narrowed to 32 bits when they fit (see ``ONNXIntList``).
    case ints(ONNXIntList)
    /// Strings, interned (see ``ONNXStringList``).
    case strings(ONNXStringList)

    /// An ints attribute from an array (narrowed when every value fits in 32 bits).
    public static func ints(_ values: [Int64]) -> ONNXAttribute { .ints(ONNXIntList(values)) }

    /// A strings attribute from an array.
    public static func strings(_ values: [String]) -> ONNXAttribute { .strings(ONNXStringList(values)) }
}

/// Declared type and shape of a graph input, output or intermediate value.
public struct ONNXValueInfo: Sendable, Equatable {
    public var name: String
    public var type: ONNXType

    public init(name: String, type: ONNXType) {
        self.name = name
        self.type = type
    }
}

/// An ONNX value type.
public indirect enum ONNXType: Sendable, Equatable, CustomStringConvertible {
    /// A tensor; `shape` is nil when the rank is unknown.
    case tensor(ONNXDataType, shape: [ONNXDimension]?)
    case sequence(ONNXType)
    case map(key: ONNXDataType, value: ONNXType)
    case unknown

    public var description: String {
        switch self {
        case .tensor(let t, _): return "tensor(\(t))"
        case .sequence(let e): return "seq(\(e))"
        case .map(let k, let v): return "map(\(k),\(v))"
        case .unknown: return "unknown"
        }
    }
}

/// One dimension of a declared shape.
public enum ONNXDimension: Sendable, Equatable, CustomStringConvertible {
    case fixed(Int)
    /// A named or unnamed dynamic dimension (batch size, usually).
    case dynamic(String?)

    public var fixedValue: Int? {
        if case .fixed(let v) = self { return v }
        return nil
    }

    public var description: String {
        switch self {
        case .fixed(let v): return String(v)
        case .dynamic(let name): return name ?? "?"
        }
    }
}
