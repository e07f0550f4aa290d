extension ONNXTensor {
    /// Reads a `TensorProto`. A first pass reads the header fields and counts the elements of each value field;
    /// the values are then copied once, straight from the file into an array of exactly the right size (raw
    /// data with one memory copy).
    init(reader tensor: WireReader, context: String) throws(ONNXFormatError) {
        var name = ""
        var dimCount = 0
        var dataType: Int32 = 0
        var dataLocation: Int32 = 0
        var raw: UnsafeRawBufferPointer? = nil
        // Element counts of float_data (4), int32_data (5), int64_data (7), double_data (10), uint64_data (11)
        // and string_data (6).
        var counts = (float: 0, int32: 0, int64: 0, double: 0, uint64: 0, string: 0)
        var r = tensor
        while let f = try r.nextField() {
            switch f.number {
            case 1: dimCount += try r.countElements(f, .varint)
            case 2: dataType = try r.int32(f)
            case 4: counts.float += try r.countElements(f, .fixed32)
            case 5: counts.int32 += try r.countElements(f, .varint)
            case 6: try r.expect(f, wireType: 2); counts.string += 1; try r.skip(f)
            case 7: counts.int64 += try r.countElements(f, .varint)
            case 8: name = try r.string(f)
            case 9: raw = try r.bytes(f)
            case 10: counts.double += try r.countElements(f, .fixed64)
            case 11: counts.uint64 += try r.countElements(f, .varint)
            case 14: dataLocation = try r.int32(f)
            default: try r.skip(f)
            }
        }
        let label = name.isEmpty ? context : "\(context) \"\(name)\""
        guard dimCount <= ONNXModel.maxRank else {
            throw ONNXFormatError("\(label): rank \(dimCount) exceeds the maximum of \(ONNXModel.maxRank)")
        }
        var declared: [Int64] = []
        declared.reserveCapacity(dimCount)
        if dimCount > 0 {
            r = tensor
            while let f = try r.nextField() {
                guard f.number == 1 else { try r.skip(f); continue }
                try r.forEachElement(f, .varint) { declared.append(Int64(bitPattern: $0)) }
            }
        }
        var dims: [Int] = []
        dims.reserveCapacity(dimCount)
        var count = 1
        for (i, d) in declared.enumerated() {
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
        if dataLocation == 1 {  // TensorProto.DataLocation.EXTERNAL
            throw ONNXFormatError("\(label): tensors stored in external files are not supported")
        }
        guard let type = ONNXDataType(rawValue: dataType) else {
            throw ONNXFormatError("\(label): unknown element type \(dataType)")
        }
        let values = ValueSource(tensor: tensor, raw: raw, count: count, label: label)
        let storage: Storage
        switch type {
        case .float:
            storage = .float(try values.fixed(Float.self, field: 4, n: counts.float, .fixed32) { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) })
        case .double:
            storage = .double(try values.fixed(Double.self, field: 10, n: counts.double, .fixed64) { Double(bitPattern: $0) })
        case .int64:
            storage = .int64(try values.fixed(Int64.self, field: 7, n: counts.int64, .varint) { Int64(bitPattern: $0) })
        case .int32, .int16, .int8, .uint16, .uint8, .bool:
            let widths: [ONNXDataType: Int] = [.int32: 4, .int16: 2, .int8: 1, .uint16: 2, .uint8: 1, .bool: 1]
            let width = widths[type] ?? 4
            if let raw {
                storage = .int64(
                    try ONNXTensor.rawIntegers(
                        raw, width: width, signed: [.int32, .int16, .int8].contains(type), count: count, label: label))
            } else {
                storage = .int64(
                    try values.typed(field: 5, n: counts.int32, .varint) { Int64(Int32(truncatingIfNeeded: $0)) })
            }
        case .uint32, .uint64:
            if let raw {
                storage = .int64(
                    try ONNXTensor.rawIntegers(
                        raw, width: type == .uint32 ? 4 : 8, signed: false, count: count, label: label))
            } else {
                storage = .int64(try values.typed(field: 11, n: counts.uint64, .varint) { Int64(bitPattern: $0) })
            }
        case .string:
            guard counts.string == count else {
                throw ONNXFormatError("\(label): shape \(dims) needs \(count) strings, the file has \(counts.string)")
            }
            var strings: [String] = []
            strings.reserveCapacity(count)
            r = tensor
            while let f = try r.nextField() {
                guard f.number == 6 else { try r.skip(f); continue }
                strings.append(try r.bytesString(f))
            }
            storage = .string(strings)
        default:
            throw ONNXFormatError("\(label): element type \(type) is not supported")
        }
        self.init(name: name, dataType: type, dims: dims, storage: storage)
    }

    /// Where a tensor's values come from: `raw_data` when present, else one typed repeated field.
    private struct ValueSource {
        var tensor: WireReader
        var raw: UnsafeRawBufferPointer?
        var count: Int
        var label: String

        /// Values of a fixed-width type: copied from raw little-endian bytes, or decoded from the typed field.
        func fixed<T>(
            _: T.Type, field: Int, n: Int, _ kind: WireReader.Scalar, _ convert: (UInt64) -> T
        ) throws(ONNXFormatError) -> [T] {
            guard let raw else { return try typed(field: field, n: n, kind, convert) }
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

        /// Values of the typed repeated field `field` (packed or not), which must hold exactly `count` of them.
        func typed<T>(
            field: Int, n: Int, _ kind: WireReader.Scalar, _ convert: (UInt64) -> T
        ) throws(ONNXFormatError) -> [T] {
            guard n == count else {
                throw ONNXFormatError("\(label): the shape needs \(count) values, the file has \(n)")
            }
            var values: [T] = []
            values.reserveCapacity(n)
            var r = tensor
            while let f = try r.nextField() {
                guard f.number == field else { try r.skip(f); continue }
                try r.forEachElement(f, kind) { values.append(convert($0)) }
            }
            return values
        }
    }

    static func rawIntegers(
        _ raw: UnsafeRawBufferPointer, width: Int, signed: Bool, count: Int, label: String
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
