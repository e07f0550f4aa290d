internal import CONNXProto
internal import CProtobufC

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
        guard !bytes.isEmpty else { throw ONNXFormatError("the file is empty, not an ONNX model") }
        let parsed: UnsafeMutablePointer<Onnx__ModelProto>? = bytes.withUnsafeBufferPointer { buffer in
            onnx__model_proto__unpack(nil, buffer.count, buffer.baseAddress)
        }
        guard let parsed else {
            throw ONNXFormatError(
                "not a valid ONNX protobuf (\(bytes.count) bytes): the file is truncated, corrupt or not an ONNX model")
        }
        defer { onnx__model_proto__free_unpacked(parsed, nil) }
        try self.init(proto: parsed.pointee)
    }

    /// Reads and parses a `.onnx` file.
    public init(contentsOf path: String) throws(ONNXFormatError) {
        try self.init(bytes: ONNXModel.readFile(path))
    }

    /// Reads a whole file into an array of exactly its size (one read, no growth copies); errors name the path.
    public static func readFile(_ path: String) throws(ONNXFormatError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ONNXFormatError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw ONNXFormatError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw ONNXFormatError("cannot read \(path): not a regular file") }
        let size = Int(info.st_size)
        var failure: Int32 = 0
        var bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            guard let base = buffer.baseAddress else { return }
            while count < size {
                let n = read(fd, base + count, size - count)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { return }  // the file shrank while being read
                count += n
            }
        }
        if failure != 0 { throw ONNXFormatError("cannot read \(path): \(String(cString: strerror(failure)))") }
        // A file that grew while being read: take the rest too, so the bytes are the whole file.
        if bytes.count == size {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw ONNXFormatError("cannot read \(path): \(String(cString: strerror(errno)))") }
                if n == 0 { break }
                bytes.append(contentsOf: chunk[0..<n])
            }
        }
        return bytes
    }

    init(proto m: Onnx__ModelProto) throws(ONNXFormatError) {
        guard m.has_ir_version != 0 else {
            throw ONNXFormatError("not an ONNX model: ir_version is missing (wrong file type or corrupt file)")
        }
        // Newer IR versions are read like the newest known one: what they add (new element types, new
        // constructs) is refused where it is used, by name, so a model that uses nothing new loads as it is.
        guard m.ir_version >= ONNXModel.supportedIRVersions.lowerBound else {
            throw ONNXFormatError(
                "unsupported IR version \(m.ir_version): this engine reads IR version "
                    + "\(ONNXModel.supportedIRVersions.lowerBound) and newer (ONNX 1.0, 2017, on); re-export the model with "
                    + "a current converter (skl2onnx, onnxmltools, spark-onnx, torch.onnx)")
        }
        var opsets: [String: Int64] = [:]
        for i in 0..<m.n_opset_import {
            guard let op = m.opset_import[i]?.pointee else { continue }
            let domain = ONNXModel.canonicalDomain(str(op.domain))
            guard op.has_version != 0, op.version >= 1 else {
                throw ONNXFormatError("opset import for domain \(domain) has no valid version")
            }
            // A domain imported twice (onnxmltools' `convert_sparkml` imports the default domain as both "" and
            // "ai.onnx", at different opsets): the later import wins, as in onnxruntime, which loads such files.
            opsets[domain] = op.version
        }
        guard !opsets.isEmpty else { throw ONNXFormatError("the model imports no opset") }
        guard let g = m.graph?.pointee else { throw ONNXFormatError("the model has no graph") }
        var metadata: [String: String] = [:]
        for i in 0..<m.n_metadata_props {
            if let e = m.metadata_props[i]?.pointee { metadata[str(e.key)] = str(e.value) }
        }
        let graph = try ONNXGraph(proto: g, opsets: opsets)
        self.init(
            irVersion: m.ir_version, opsets: opsets, producerName: str(m.producer_name),
            producerVersion: str(m.producer_version), metadata: metadata, graph: graph)
    }
}

/// A C string (possibly NULL) as a Swift String.
func str(_ p: UnsafeMutablePointer<CChar>?) -> String {
    guard let p else { return "" }
    return String(cString: p)
}

func bytesString(_ b: ProtobufCBinaryData) -> String {
    guard b.len > 0, let data = b.data else { return "" }
    return String(decoding: UnsafeBufferPointer(start: data, count: b.len), as: UTF8.self)
}
