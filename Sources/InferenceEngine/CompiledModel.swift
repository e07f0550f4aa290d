import BackgroundThreads
public import ONNXFormat

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A model compiled for execution: immutable, `Sendable`, callable from many threads at once (each thread with
/// its own `ExecutionContext`).
///
/// Loading validates everything up front: a model that cannot run is refused here with an error naming the
/// node, the op and the reason, never at the first request.
///
/// Two ways to run it:
/// - ``predict(rows:numeric:strings:context:into:)``, the serving path: dense rows laid out as
///   `signature.features`, results in a reused ``PredictionResult``; it runs the pruned ``predictPlan`` or one of
///   the fused plans (``FusedTreePlan``, ``FusedLinearPlan``).
/// - ``run(_:context:)``, the general path (`sluice score`): named ``Tensor`` feeds in, every graph output back.
///
/// The ``Compiler`` numbers every graph value as a slot; kernels hold only slot numbers and constants, and all data of
/// a call lives in the ``Slot``s of the caller's ``ExecutionContext``.
public final class CompiledModel: Sendable {
    /// What callers feed and get back: graph inputs and outputs, the dense feature layout used by
    /// ``predict(rows:numeric:strings:context:into:)``, the task and the class labels.
    public let signature: ModelSignature
    /// IR version, opsets, producer and op counts of the loaded file.
    public let info: ModelInfo

    /// Element kind of every slot, indexed by slot number; ``makeContext()`` creates one ``Slot`` per entry.
    let slotKinds: [ElementKind]
    /// Initializers and the slots they live in, copied into every new context by ``makeContext()``; kernels only read
    /// them.
    let constants: [(slot: Int, tensor: ONNXTensor)]
    /// Slot of each graph input, in `signature.inputs` order.
    let inputSlots: [Int]
    /// Slot of each graph output, in `signature.outputs` order.
    let outputSlots: [Int]
    /// Every kernel of the graph in topological order; ``run(_:context:)`` executes all of them.
    let plan: [any Kernel]
    /// The serving plan: only the kernels the label and score outputs depend on, possibly with the input Concat fed
    /// directly from the caller's block (see `PredictBinder.feedConcatenatedBlocks`).
    let predictPlan: [any Kernel]
    /// How ``predict(rows:numeric:strings:context:into:)`` feeds the dense rows and reads the results back.
    let binding: PredictBinding

    /// Loads and compiles a `.onnx` file. `featureNames` optionally renames the numeric features in order.
    ///
    /// The file's bytes are released as soon as they are parsed, before compiling, so that the file, the parsed
    /// `ONNXModel` and the compiled plan are never all in memory at once.
    public convenience init(contentsOf path: String, featureNames: [String]? = nil) throws(EngineError) {
        let start = CompiledModel.now()
        let (model, size) = try CompiledModel.parse(path)
        try self.init(model: model, featureNames: featureNames, started: start, fileBytes: size)
    }

    /// Reads and parses a file; the bytes are freed when this returns.
    private static func parse(_ path: String) throws(EngineError) -> (ONNXModel, Int) {
        do {
            let bytes = try ONNXModel.readFile(path)
            return (try ONNXModel(bytes: bytes), bytes.count)
        } catch {
            throw EngineError(.invalidModel, error.message)
        }
    }

    /// Parses and compiles a model from the bytes of a `.onnx` file.
    public convenience init(bytes: [UInt8], featureNames: [String]? = nil) throws(EngineError) {
        let start = CompiledModel.now()
        let model: ONNXModel
        do { model = try ONNXModel(bytes: bytes) } catch { throw EngineError(.invalidModel, error.message) }
        try self.init(model: model, featureNames: featureNames, started: start, fileBytes: bytes.count)
    }

    /// Parses and compiles a model from the bytes of a `.onnx` file that the caller hands over: they are released
    /// once parsed, before compiling, so that the file is not in memory next to the parsed model and the compiled
    /// plan (the server's registry loads models this way).
    public convenience init(consuming bytes: consuming [UInt8], featureNames: [String]? = nil) throws(EngineError) {
        let start = CompiledModel.now()
        let size = bytes.count
        let parsed: Result<ONNXModel, ONNXFormatError> = bytes.withUnsafeBytes { raw in
            do throws(ONNXFormatError) { return .success(try ONNXModel(wire: raw)) } catch { return .failure(error) }
        }
        _ = consume bytes
        let model: ONNXModel
        do { model = try parsed.get() } catch { throw EngineError(.invalidModel, error.message) }
        try self.init(model: model, featureNames: featureNames, started: start, fileBytes: size)
    }

    /// Compiles an already parsed model.
    public convenience init(model: ONNXModel, featureNames: [String]? = nil) throws(EngineError) {
        try self.init(model: model, featureNames: featureNames, started: CompiledModel.now(), fileBytes: 0)
    }

    /// The designated initializer behind the public ones: compiles `model` and records the load time (seconds since
    /// `started`, on ``now()``) and `fileBytes` in ``info``.
    ///
    /// `rewrites` is false only in tests that compare a rewritten graph with the graph as written.
    ///
    /// - Throws: ``EngineError`` (`.unsupported`, `.invalidModel`, `.invalidInput`) naming the node and the reason when
    ///   the model cannot run or the feature names do not match.
    init(
        model: ONNXModel, featureNames: [String]?, started: Double, fileBytes: Int, rewrites: Bool = true
    ) throws(EngineError) {
        var compiler = Compiler(model: model, featureNames: featureNames)
        compiler.rewrites = rewrites
        let compiled = try compiler.compile()
        self.signature = compiled.signature
        self.slotKinds = compiled.slotKinds
        self.constants = compiled.constants
        self.inputSlots = compiled.inputSlots
        self.outputSlots = compiled.outputSlots
        self.plan = compiled.plan
        self.predictPlan = compiled.predictPlan
        self.binding = compiled.binding
        var info = compiled.info
        info.loadTime = CompiledModel.now() - started
        info.fileSize = fileBytes
        self.info = info
    }

    /// Seconds on the process's one monotonic clock (`BackgroundThreads.monotonicNanos`).
    static func now() -> Double { Double(monotonicNanos()) * 1e-9 }

    /// A fresh execution context (scratch buffers) for this model. Keep one per thread and reuse it.
    ///
    /// Creates one ``Slot`` per graph value and loads the initializers into theirs (their arrays are shared, not
    /// copied: kernels only read constants). Not for the per-call path.
    public func makeContext() -> ExecutionContext {
        let slots = slotKinds.map { Slot(kind: $0) }
        for (slot, tensor) in constants {
            let s = slots[slot]
            s.setShape(tensor.dims)
            switch tensor.storage {
            case .float(let v): s.f = v
            case .double(let v): s.d = v
            case .int64(let v): s.i = v
            case .string(let v): s.s = v
            }
        }
        return ExecutionContext(slots: slots, modelID: ObjectIdentifier(self))
    }

    /// General path: feeds every graph input by name and returns every graph output, in graph order.
    ///
    /// Inputs are converted to the element kind the model declares (see `Slot.load(_:name:)`) and their shapes checked
    /// against the declared fixed dimensions. Without a `context` a fresh one is made for this call.
    ///
    /// - Throws: ``EngineError`` with `.invalidInput` for a missing input, a wrong shape or type, or a context of
    ///   another model; `.evaluation` when a kernel fails on these values.
    public func run(_ feeds: [String: Tensor], context: ExecutionContext? = nil) throws(EngineError) -> [(
        name: String, value: Tensor
    )] {
        let ctx = context ?? makeContext()
        try checkContext(ctx)
        for (k, input) in signature.inputs.enumerated() {
            guard let t = feeds[input.name] else { throw EngineError.input("missing input \"\(input.name)\"") }
            try ctx.slots[inputSlots[k]].load(t, name: input.name)
            if let shape = input.shape {
                let actual = ctx.slots[inputSlots[k]].shape
                guard actual.count == shape.count else {
                    throw EngineError.input(
                        "input \"\(input.name)\" has shape \(actual), the model expects rank \(shape.count)")
                }
                for (d, want) in shape.enumerated() where want != nil && want != actual[d] {
                    throw EngineError.input(
                        "input \"\(input.name)\" has shape \(actual); dimension \(d) must be \(want!)")
                }
            }
        }
        for kernel in plan { try kernel.run(ctx) }
        return signature.outputs.enumerated().map { (k, o) in (o.name, ctx.slots[outputSlots[k]].tensor()) }
    }

    /// Refuses a context made by another model, whose slots would not match this plan.
    ///
    /// - Throws: ``EngineError`` with `.invalidInput`.
    func checkContext(_ ctx: ExecutionContext) throws(EngineError) {
        guard ctx.modelID == ObjectIdentifier(self) else {
            throw EngineError.input("the execution context belongs to another model; use makeContext() of this model")
        }
    }
}

/// Facts about a loaded model for `sluice inspect` and `GetModelVersion`.
public struct ModelInfo: Sendable {
    /// ONNX IR version of the file.
    public var irVersion: Int64
    /// Opset version imported for each domain (`""`/`ai.onnx`, `ai.onnx.ml`, ...).
    public var opsets: [String: Int64]
    /// Producer name and version joined by a space (empty when the file names none).
    public var producer: String
    /// `domain.op_type` → number of nodes.
    public var opCounts: [String: Int]
    /// Nodes in the graph as written, before any load-time rewrite.
    public var nodeCount: Int
    /// Number of trees and flattened tree nodes across all tree ensembles.
    public var trees: Int
    /// Flattened tree nodes across all tree ensembles (see ``trees``).
    public var treeNodes: Int
    /// Seconds spent parsing and compiling.
    public internal(set) var loadTime: Double = 0
    /// Size of the file in bytes (0 when compiled from a parsed model).
    public internal(set) var fileSize: Int = 0
}
