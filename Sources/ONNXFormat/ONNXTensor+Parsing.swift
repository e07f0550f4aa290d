internal import CONNXProto
internal import CProtobufC

extension ONNXTensor {
    init(proto t: Onnx__TensorProto, context: String) throws(ONNXFormatError) {
        let name = str(t.name)
        let label = name.isEmpty ? context : "\(context) \"\(name)\""
        guard t.n_dims <= ONNXModel.maxRank else {
            throw ONNXFormatError("\(label): rank \(t.n_dims) exceeds the maximum of \(ONNXModel.maxRank)")
        }
        var dims: [Int] = []
        var count = 1
        for i in 0..<t.n_dims {
            let d = t.dims[i]
            guard d >= 0, d <= Int64(ONNXModel.maxTensorElements) else {
                throw ONNXFormatError("\(label): dimension \(i) has invalid size \(d)")
            }
            dims.append(Int(d))
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow, product <= ONNXModel.maxTensorElements else {
                throw ONNXFormatError(
                    "\(label): declared shape \(dims) holds more than \(ONNXModel.maxTensorElements) elements")
            }
            count = product
        }
        if t.has_data_location != 0, t.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
            throw ONNXFormatError("\(label): tensors stored in external files are not supported")
        }
        guard let dataType = ONNXDataType(rawValue: t.data_type) else {
            throw ONNXFormatError("\(label): unknown element type \(t.data_type)")
        }
        let raw: UnsafeBufferPointer<UInt8>? =
            t.has_raw_data != 0 ? UnsafeBufferPointer(start: t.raw_data.data, count: t.raw_data.len) : nil
        let storage: Storage
        switch dataType {
        case .float:
            storage = .float(try ONNXTensor.values(raw, Float.self, t.float_data, t.n_float_data, count, label))
        case .double:
            storage = .double(try ONNXTensor.values(raw, Double.self, t.double_data, t.n_double_data, count, label))
        case .int64:
            storage = .int64(try ONNXTensor.values(raw, Int64.self, t.int64_data, t.n_int64_data, count, label))
        case .int32, .int16, .int8, .uint16, .uint8, .bool:
            let widths: [ONNXDataType: Int] = [.int32: 4, .int16: 2, .int8: 1, .uint16: 2, .uint8: 1, .bool: 1]
            if let raw {
                storage = .int64(try ONNXTensor.rawIntegers(raw, width: widths[dataType] ?? 4,
                    signed: [.int32, .int16, .int8].contains(dataType), count: count, label: label))
            } else {
                let v = try ONNXTensor.values(nil, Int32.self, t.int32_data, t.n_int32_data, count, label)
                storage = .int64(v.map { Int64($0) })
            }
        case .uint32, .uint64:
            if let raw {
                storage = .int64(try ONNXTensor.rawIntegers(raw, width: dataType == .uint32 ? 4 : 8, signed: false,
                    count: count, label: label))
            } else {
                let v = try ONNXTensor.values(nil, UInt64.self, t.uint64_data, t.n_uint64_data, count, label)
                storage = .int64(v.map { Int64(truncatingIfNeeded: $0) })
            }
        case .string:
            guard t.n_string_data == count else {
                throw ONNXFormatError("\(label): shape \(dims) needs \(count) strings, the file has \(t.n_string_data)")
            }
            storage = .string((0..<t.n_string_data).map { bytesString(t.string_data[$0]) })
        default:
            throw ONNXFormatError("\(label): element type \(dataType) is not supported")
        }
        self.init(name: name, dataType: dataType, dims: dims, storage: storage)
    }

    /// Values of a fixed-width type from raw little-endian bytes or from the typed repeated field.
    static func values<T>(
        _ raw: UnsafeBufferPointer<UInt8>?, _: T.Type, _ field: UnsafeMutablePointer<T>?, _ n: Int, _ count: Int,
        _ label: String
    ) throws(ONNXFormatError) -> [T] {
        if let raw {
            guard raw.count == count * MemoryLayout<T>.size else {
                throw ONNXFormatError(
                    "\(label): raw data has \(raw.count) bytes, the shape needs \(count * MemoryLayout<T>.size)")
            }
            guard count > 0, let base = raw.baseAddress else { return [] }
            return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: base, byteCount: raw.count)
                initialized = count
            }
        }
        guard n == count else { throw ONNXFormatError("\(label): the shape needs \(count) values, the file has \(n)") }
        return Array(UnsafeBufferPointer(start: field, count: n))
    }

    static func rawIntegers(
        _ raw: UnsafeBufferPointer<UInt8>, width: Int, signed: Bool, count: Int, label: String
    ) throws(ONNXFormatError) -> [Int64] {
        guard raw.count == count * width else {
            throw ONNXFormatError("\(label): raw data has \(raw.count) bytes, the shape needs \(count * width)")
        }
        var out: [Int64] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            var u: UInt64 = 0
            for b in 0..<width { u |= UInt64(raw[i * width + b]) << (8 * UInt64(b)) }
            if signed && width < 8 && (u >> (UInt64(width) * 8 - 1)) & 1 == 1 {
                u |= ~0 << (UInt64(width) * 8)
            }
            out.append(Int64(bitPattern: u))
        }
        return out
    }
}
