/// Test-only helpers shared by the test targets (never linked into the server).
/// A minimal protobuf writer for building request messages in tests (the server only decodes them).
public struct ProtoWriter {
    public init() {}
    public var bytes: [UInt8] = []

    public mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    public mutating func tag(_ field: Int, _ wire: Int) { varint(UInt64(field << 3 | wire)) }

    public mutating func string(_ field: Int, _ text: String) { bytesField(field, Array(text.utf8)) }

    public mutating func bytesField(_ field: Int, _ data: [UInt8]) {
        tag(field, 2)
        varint(UInt64(data.count))
        bytes += data
    }

    public mutating func double(_ field: Int, _ value: Double) {
        tag(field, 1)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    public mutating func uint(_ field: Int, _ value: UInt64) {
        tag(field, 0)
        varint(value)
    }

    public mutating func packedFloats(_ field: Int, _ values: [Float]) {
        var data: [UInt8] = []
        for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data += $0 } }
        bytesField(field, data)
    }

    public mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        bytesField(field, inner.bytes)
    }
}

/// A tiny reader for the fields tests check in responses.
public enum ProtoReader {
    /// (field, wire type, varint value or payload bytes).
    public static func fields(_ bytes: [UInt8]) -> [(field: Int, varint: UInt64, payload: [UInt8])] {
        var out: [(Int, UInt64, [UInt8])] = []
        var index = 0
        func readVarint() -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            return result
        }
        while index < bytes.count {
            let key = readVarint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: out.append((field, readVarint(), []))
            case 1:
                out.append((field, 0, Array(bytes[index..<index + 8])))
                index += 8
            case 2:
                let length = Int(readVarint())
                out.append((field, 0, Array(bytes[index..<index + length])))
                index += length
            case 5:
                out.append((field, 0, Array(bytes[index..<index + 4])))
                index += 4
            default: return out
            }
        }
        return out
    }
}
