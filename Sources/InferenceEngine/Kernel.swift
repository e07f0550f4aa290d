import ONNXFormat

/// One compiled node: reads its input slots and writes its output slots in an execution context.
///
/// To add an op, write a kernel type with a static `build` function of type ``OpRegistry/Builder`` that validates
/// the node, calls `setOutput` for every output and returns the kernel, then register it in
/// ``OpRegistry/builders`` under `domain.op_type`.
protocol Kernel: Sendable {
    /// Runs the node on the slots of `ctx`, resizing its output slots to the batch.
    ///
    /// Called on the caller's thread, once per call and kernel; kernels are immutable and shared by every context of
    /// the model, so all per-call state lives in `ctx`.
    ///
    /// - Throws: ``EngineError`` with `.invalidInput` or `.evaluation` when the run-time shapes or values do not fit.
    func run(_ ctx: ExecutionContext) throws(EngineError)
}

/// What the compiler knows about a value before running anything.
struct ValueType: Sendable, Equatable {
    /// How the value's elements are stored.
    var kind: ElementKind
    /// Declared ONNX element type when known (reported in signatures; Int64 storage may be int32, ...).
    var onnxType: ONNXDataType?
    /// Known shape: nil when the rank is unknown; nil entries are dynamic dimensions.
    var shape: [Int?]?

    /// A type of `kind`; the shape and the ONNX element type default to unknown.
    init(_ kind: ElementKind, shape: [Int?]? = nil, onnxType: ONNXDataType? = nil) {
        self.kind = kind
        self.shape = shape
        self.onnxType = onnxType
    }

    /// Size of the last dimension when the rank and that dimension are known at load time.
    var lastDim: Int? { shape?.last ?? nil }
}

/// Everything a kernel builder may look at for one node.
///
/// Builders check everything that can be checked at load (kinds, attribute types, known shapes) and throw
/// ``EngineError`` naming the node, so that a model that cannot run is refused before it serves.
struct NodeBuilder {
    /// The node being compiled, used for attributes and error messages.
    let node: ONNXNode
    /// Opset version of the node's domain.
    let opset: Int64
    /// Slot of each input (-1 for an omitted optional input).
    let inputs: [Int]
    /// Load-time type of each input (nil for an omitted input).
    let inputTypes: [ValueType?]
    /// Constant value of an input, when it is an initializer.
    let constants: [ONNXTensor?]
    /// Slots for the outputs (-1 for an omitted output).
    let outputs: [Int]
    /// Filled by the builder: the type of each output.
    var outputTypes: [ValueType?]

    /// An error naming this node and its op, for builders to throw.
    func fail(_ reason: String) -> EngineError { EngineError.node(node, reason) }

    /// Checks that the node has between `range.lowerBound` and `range.upperBound` inputs and that the first
    /// `range.lowerBound` of them are not omitted.
    func requireInputs(_ range: ClosedRange<Int>) throws(EngineError) {
        let present = inputs.count
        guard range.contains(present) else {
            throw fail(
                "expects \(range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound)–\(range.upperBound)") inputs, has \(present)"
            )
        }
        for k in 0..<min(present, range.lowerBound) where inputs[k] < 0 {
            throw fail("input \(k) is required")
        }
    }

    /// Checks that the node declares at least `n` outputs and that its first output is not omitted.
    func requireOutputs(_ n: Int) throws(EngineError) {
        guard outputs.count >= n, outputs[0] >= 0 else { throw fail("expects \(n) output(s)") }
    }

    /// The load-time type of input `k`; throws when the input is omitted.
    func input(_ k: Int) throws(EngineError) -> ValueType {
        guard k < inputTypes.count, let t = inputTypes[k] else { throw fail("input \(k) is missing") }
        return t
    }

    /// The element kind of input `k`, throwing a node error that lists the allowed kinds when it is not one of them.
    func inputKind(_ k: Int, allowed: [ElementKind]) throws(EngineError) -> ElementKind {
        let t = try input(k)
        guard allowed.contains(t.kind) else {
            throw fail(
                "input \(k) (\"\(node.inputs[k])\") has type \(t.kind); expected \(allowed.map(\.description).joined(separator: " or "))"
            )
        }
        return t.kind
    }

    // MARK: attributes

    /// The raw attribute `name`, or nil when the node does not set it.
    func attr(_ name: String) -> ONNXAttribute? { node.attributes[name] }

    /// An int attribute, `value` when absent; throws when it has another type.
    func int(_ name: String, default value: Int64) throws(EngineError) -> Int64 {
        switch attr(name) {
        case nil: return value
        case .int(let v): return v
        default: throw fail("attribute \(name) must be an int")
        }
    }

    /// A float attribute (an int is accepted and converted), `value` when absent.
    func float(_ name: String, default value: Float) throws(EngineError) -> Float {
        switch attr(name) {
        case nil: return value
        case .float(let v): return v
        case .int(let v): return Float(v)
        default: throw fail("attribute \(name) must be a float")
        }
    }

    /// A string attribute, `value` when absent; throws when it has another type.
    func string(_ name: String, default value: String) throws(EngineError) -> String {
        switch attr(name) {
        case nil: return value
        case .string(let v): return v
        default: throw fail("attribute \(name) must be a string")
        }
    }

    /// A list-of-floats attribute; a single float or a tensor attribute is accepted too. Nil when absent.
    func floats(_ name: String) throws(EngineError) -> [Float]? {
        switch attr(name) {
        case nil: return nil
        case .floats(let v): return v
        case .float(let v): return [v]
        case .tensor(let t): return t.floatValues
        default: throw fail("attribute \(name) must be a list of floats")
        }
    }

    /// A list of floats as doubles, keeping full precision when the attribute is a double tensor. Nil when absent.
    func doubles(_ name: String) throws(EngineError) -> [Double]? {
        switch attr(name) {
        case nil: return nil
        case .floats(let v): return v.map(Double.init)
        case .tensor(let t):
            if case .double(let d) = t.storage { return d }
            return t.floatValues.map(Double.init)
        default: throw fail("attribute \(name) must be a list of floats")
        }
    }

    /// A list-of-ints attribute copied into an array (see ``intList(_:)`` for large lists). Nil when absent.
    func ints(_ name: String) throws(EngineError) -> [Int64]? {
        try intList(name).map { Array($0) }
    }

    /// A list-of-ints attribute in its compact parsed form (no `[Int64]` copy): for the large per-node
    /// attributes of tree ensembles, which would otherwise double the load's peak memory.
    func intList(_ name: String) throws(EngineError) -> ONNXIntList? {
        switch attr(name) {
        case nil: return nil
        case .ints(let v): return v
        case .int(let v): return [v]
        case .tensor(let t): return ONNXIntList(t.int64Values)
        default: throw fail("attribute \(name) must be a list of ints")
        }
    }

    /// A list-of-strings attribute copied into an array (see ``stringList(_:)``). Nil when absent.
    func strings(_ name: String) throws(EngineError) -> [String]? {
        try stringList(name).map { Array($0) }
    }

    /// A list-of-strings attribute in its interned parsed form (see ``intList(_:)``).
    func stringList(_ name: String) throws(EngineError) -> ONNXStringList? {
        switch attr(name) {
        case nil: return nil
        case .strings(let v): return v
        case .string(let v): return [v]
        default: throw fail("attribute \(name) must be a list of strings")
        }
    }

    /// A constant input's integer values (shape tensors, axes, indices).
    func constantInts(_ k: Int) -> [Int64]? {
        guard k < constants.count, let c = constants[k] else { return nil }
        return c.int64Values
    }

    /// Records the type of output `k`; an index past the node's outputs is ignored. Every non-omitted output must be
    /// set, or the compiler refuses the node.
    mutating func setOutput(_ k: Int, _ type: ValueType) {
        if k < outputTypes.count { outputTypes[k] = type }
    }

    /// Normalises an axis against a rank, throwing a node error when out of range.
    func axis(_ a: Int64, rank: Int) throws(EngineError) -> Int {
        let r = Int64(rank)
        guard a >= -r, a < max(r, 1) else { throw fail("axis \(a) is out of range for rank \(rank)") }
        return Int(a < 0 ? a + r : a)
    }
}
