internal import DurableFiles
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ONNXModel {
    /// Largest number of elements one constant tensor may declare (guards against huge declared dims).
    public static let maxTensorElements = 1 << 28
    /// Largest tensor rank accepted.
    public static let maxRank = 8
    /// Deepest nesting of sequence/map types accepted.
    static let maxTypeDepth = 8

    /// Parses and validates an ONNX model from the bytes of a `.onnx` file.
    public init(bytes: [UInt8]) throws(ONNXFormatError) {
        let result: Result<ONNXModel, ONNXFormatError> = bytes.withUnsafeBytes { raw in
            do throws(ONNXFormatError) { return .success(try ONNXModel(wire: raw)) } catch { return .failure(error) }
        }
        self = try result.get()
    }

    /// Parses and validates an ONNX model from bytes in memory (a file read or mapped by the caller).
    ///
    /// The protobuf wire format is decoded by ``WireReader`` straight into the Swift values: no intermediate
    /// copy of the message exists, so the transient memory of a load is the file plus the model being built.
    public init(wire bytes: UnsafeRawBufferPointer) throws(ONNXFormatError) {
        guard !bytes.isEmpty, let reader = WireReader(file: bytes, message: "ModelProto") else {
            throw ONNXFormatError("the file is empty, not an ONNX model")
        }
        try self.init(reader: reader)
    }

    /// Reads and parses a `.onnx` file.
    public init(contentsOf path: String) throws(ONNXFormatError) {
        try self.init(bytes: ONNXModel.readFile(path))
    }

    /// Reads a whole file into an array of exactly its size (`AtomicFile.read`: one read, no growth copies);
    /// errors name the path. A directory or device is refused before it is opened.
    public static func readFile(_ path: String) throws(ONNXFormatError) -> [UInt8] {
        var info = stat()
        if stat(path, &info) == 0, (info.st_mode & S_IFMT) != S_IFREG {
            throw ONNXFormatError("cannot read \(path): not a regular file")
        }
        do {
            return try AtomicFile.read(path)
        } catch {
            throw ONNXFormatError(error.description)
        }
    }

    /// Reads a `ModelProto`: the header fields and opset imports first (one pass that only records where the
    /// graph is), then the graph, which needs the opsets to check every node's domain.
    init(reader model: WireReader) throws(ONNXFormatError) {
        var r = model
        var irVersion: Int64? = nil
        var opsets: [String: Int64] = [:]
        var producerName = ""
        var producerVersion = ""
        var metadata: [String: String] = [:]
        var graphReader: WireReader? = nil
        var invalidOpset: String? = nil
        while let f = try r.nextField() {
            switch f.number {
            case 1: irVersion = try r.int64(f)
            case 2: producerName = try r.string(f)
            case 3: producerVersion = try r.string(f)
            case 7: graphReader = try r.message(f, "GraphProto")
            case 8:
                var op = try r.message(f, "OperatorSetIdProto")
                var domain = ""
                var version: Int64? = nil
                while let g = try op.nextField() {
                    switch g.number {
                    case 1: domain = try op.string(g)
                    case 2: version = try op.int64(g)
                    default: try op.skip(g)
                    }
                }
                domain = ONNXModel.canonicalDomain(domain)
                guard let version, version >= 1 else {
                    // Reported after the IR version checks, which come first for a file that fails both.
                    if invalidOpset == nil { invalidOpset = domain }
                    continue
                }
                // A domain imported twice (onnxmltools' `convert_sparkml` imports the default domain as both "" and
                // "ai.onnx", at different opsets): the later import wins, as in onnxruntime, which loads such files.
                opsets[domain] = version
            case 14:
                var entry = try r.message(f, "StringStringEntryProto")
                var key = ""
                var value = ""
                while let g = try entry.nextField() {
                    switch g.number {
                    case 1: key = try entry.string(g)
                    case 2: value = try entry.string(g)
                    default: try entry.skip(g)
                    }
                }
                metadata[key] = value
            default: try r.skip(f)
            }
        }
        guard let irVersion else {
            throw ONNXFormatError("not an ONNX model: ir_version is missing (wrong file type or corrupt file)")
        }
        // Newer IR versions are read like the newest known one: what they add (new element types, new
        // constructs) is refused where it is used, by name, so a model that uses nothing new loads as it is.
        guard irVersion >= ONNXModel.supportedIRVersions.lowerBound else {
            throw ONNXFormatError(
                "unsupported IR version \(irVersion): this engine reads IR version "
                    + "\(ONNXModel.supportedIRVersions.lowerBound) and newer (ONNX 1.0, 2017, on); re-export the model with "
                    + "a current converter (skl2onnx, onnxmltools, spark-onnx, torch.onnx)")
        }
        if let invalidOpset { throw ONNXFormatError("opset import for domain \(invalidOpset) has no valid version") }
        guard !opsets.isEmpty else { throw ONNXFormatError("the model imports no opset") }
        guard let graphReader else { throw ONNXFormatError("the model has no graph") }
        let graph = try ONNXGraph(reader: graphReader, opsets: opsets)
        self.init(
            irVersion: irVersion, opsets: opsets, producerName: producerName, producerVersion: producerVersion,
            metadata: metadata, graph: graph)
    }
}
