/// A bounds-checked cursor over one protobuf message in wire format, reading straight from the bytes of the file.
///
/// The ONNX loader walks `ModelProto → GraphProto → NodeProto/AttributeProto/TensorProto/ValueInfoProto` with
/// readers like this one instead of unpacking the whole message into C structs first: nothing is copied except
/// into the final Swift values, so a model's load needs its file bytes plus the model itself, not two more copies
/// of it (protobuf-c's unpacked structs and its scan table for unpacked repeated fields).
///
/// Every varint, length and fixed-width read is checked against the end of the enclosing message; a malformed
/// input throws an `ONNXFormatError` naming the byte offset in the file and what was wrong there. A reader never
/// reads outside `[position, end)`, and the schema the loader follows has no recursive message types (nested
/// `TypeProto`s are bytes, parsed with a depth limit), so the recursion depth is bounded as well.
struct WireReader {
    /// How one element of a repeated scalar field is encoded when it is not packed.
    enum Scalar {
        /// int32, int64, uint64, enums (wire type 0).
        case varint
        /// float (wire type 5).
        case fixed32
        /// double (wire type 1).
        case fixed64

        var wireType: UInt8 {
            switch self {
            case .varint: return 0
            case .fixed32: return 5
            case .fixed64: return 1
            }
        }
    }

    /// One field header: its number, its wire type, and where the header started (for error messages).
    struct Field {
        var number: Int
        var wireType: UInt8
        var offset: Int
    }

    /// Start of the whole file: offsets in error messages count from here.
    let origin: UnsafeRawPointer
    /// Size of the whole file (error messages quote it).
    let fileSize: Int
    /// Name of the message type being read (`"NodeProto"`), for error messages.
    let message: StaticString
    /// Next byte to read, as an offset from `origin`.
    private(set) var position: Int
    /// One past the last byte of this message, as an offset from `origin`.
    let end: Int

    /// A reader over a whole file holding one top-level `message`; nil for an empty buffer (no base address).
    init?(file: UnsafeRawBufferPointer, message: StaticString) {
        guard let base = file.baseAddress else { return nil }
        self.origin = UnsafeRawPointer(base)
        self.fileSize = file.count
        self.message = message
        self.position = 0
        self.end = file.count
    }

    private init(origin: UnsafeRawPointer, fileSize: Int, message: StaticString, start: Int, end: Int) {
        self.origin = origin
        self.fileSize = fileSize
        self.message = message
        self.position = start
        self.end = end
    }

    /// True when every byte of the message has been read.
    var isAtEnd: Bool { position >= end }

    /// The error for malformed wire data at `offset`.
    func malformed(_ what: String, at offset: Int) -> ONNXFormatError {
        ONNXFormatError(
            "not a valid ONNX protobuf (\(fileSize) bytes): \(what) at byte \(offset) (in \(message)); "
                + "the file is truncated, corrupt or not an ONNX model")
    }

    // MARK: Field headers

    /// Reads the next field header, or returns nil at the end of the message.
    /// Throws on field number 0, numbers above 2^29 - 1 and the group wire types (3, 4), which ONNX never uses.
    mutating func nextField() throws(ONNXFormatError) -> Field? {
        guard position < end else { return nil }
        let offset = position
        let tag = try varint()
        let number = tag >> 3
        let wireType = UInt8(tag & 7)
        guard number >= 1, number <= 0x1FFF_FFFF else {
            throw malformed("invalid field number \(number)", at: offset)
        }
        guard wireType == 0 || wireType == 1 || wireType == 2 || wireType == 5 else {
            throw malformed("field \(number) has unsupported wire type \(wireType)", at: offset)
        }
        return Field(number: Int(number), wireType: wireType, offset: offset)
    }

    /// Skips the value of a field the loader does not read (unknown fields, doc strings, ...).
    mutating func skip(_ field: Field) throws(ONNXFormatError) {
        switch field.wireType {
        case 0: _ = try varint()
        case 1: try advance(8, field)
        case 5: try advance(4, field)
        default: _ = try lengthDelimited(field)
        }
    }

    /// Checks that `field` has the wire type its schema declares.
    func expect(_ field: Field, wireType: UInt8) throws(ONNXFormatError) {
        guard field.wireType == wireType else {
            throw malformed(
                "field \(field.number) has wire type \(field.wireType), the schema declares \(wireType)",
                at: field.offset)
        }
    }

    // MARK: Primitive reads

    /// Reads a base-128 varint of at most 10 bytes.
    mutating func varint() throws(ONNXFormatError) -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw malformed("a varint runs past the end of its message", at: start) }
            let byte = origin.load(fromByteOffset: position, as: UInt8.self)
            position += 1
            if shift == 63 && byte > 1 { throw malformed("a varint is longer than 64 bits", at: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    private mutating func advance(_ count: Int, _ field: Field) throws(ONNXFormatError) {
        guard end - position >= count else {
            throw malformed("field \(field.number) needs \(count) bytes, \(end - position) remain", at: field.offset)
        }
        position += count
    }

    private mutating func fixed32() throws(ONNXFormatError) -> UInt32 {
        guard end - position >= 4 else { throw malformed("a 4-byte value runs past the end of its message", at: position) }
        let v = origin.loadUnaligned(fromByteOffset: position, as: UInt32.self)
        position += 4
        return UInt32(littleEndian: v)
    }

    private mutating func fixed64() throws(ONNXFormatError) -> UInt64 {
        guard end - position >= 8 else { throw malformed("an 8-byte value runs past the end of its message", at: position) }
        let v = origin.loadUnaligned(fromByteOffset: position, as: UInt64.self)
        position += 8
        return UInt64(littleEndian: v)
    }

    /// Reads the length prefix of a wire-type-2 field and returns the payload's range `[start, end)` in the file.
    private mutating func lengthDelimited(_ field: Field) throws(ONNXFormatError) -> Range<Int> {
        let lengthOffset = position
        let length = try varint()
        guard length <= UInt64(end - position) else {
            throw malformed(
                "field \(field.number) declares \(length) bytes, only \(end - position) remain in the message",
                at: lengthOffset)
        }
        let start = position
        position += Int(length)
        return start..<position
    }

    // MARK: Typed field values

    /// A varint scalar field (int32, int64, enum), as its 64-bit pattern.
    mutating func scalarVarint(_ field: Field) throws(ONNXFormatError) -> UInt64 {
        try expect(field, wireType: 0)
        return try varint()
    }

    /// An `int64` field.
    mutating func int64(_ field: Field) throws(ONNXFormatError) -> Int64 {
        Int64(bitPattern: try scalarVarint(field))
    }

    /// An `int32` or enum field (a varint truncated to 32 bits, as protobuf specifies).
    mutating func int32(_ field: Field) throws(ONNXFormatError) -> Int32 {
        Int32(truncatingIfNeeded: try scalarVarint(field))
    }

    /// A `float` field.
    mutating func float(_ field: Field) throws(ONNXFormatError) -> Float {
        try expect(field, wireType: 5)
        return Float(bitPattern: try fixed32())
    }

    /// A `bytes` field as a view into the file (valid while the file's bytes are).
    mutating func bytes(_ field: Field) throws(ONNXFormatError) -> UnsafeRawBufferPointer {
        try expect(field, wireType: 2)
        let range = try lengthDelimited(field)
        return UnsafeRawBufferPointer(start: origin + range.lowerBound, count: range.count)
    }

    /// A `string` field. Like the C-string view the loader used before, the text ends at the first NUL byte;
    /// invalid UTF-8 is repaired with U+FFFD.
    mutating func string(_ field: Field) throws(ONNXFormatError) -> String {
        let raw = try bytes(field)
        let length = raw.firstIndex(of: 0) ?? raw.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<length]), as: UTF8.self)
    }

    /// A `bytes` field decoded as UTF-8 text (all bytes, NULs included).
    mutating func bytesString(_ field: Field) throws(ONNXFormatError) -> String {
        String(decoding: try bytes(field), as: UTF8.self)
    }

    /// An embedded message field: a reader over its payload (this reader moves past it).
    mutating func message(_ field: Field, _ type: StaticString) throws(ONNXFormatError) -> WireReader {
        try expect(field, wireType: 2)
        let range = try lengthDelimited(field)
        return WireReader(origin: origin, fileSize: fileSize, message: type, start: range.lowerBound, end: range.upperBound)
    }

    /// A reader over bytes that hold a nested message (the `TypeProto`s the schema keeps as bytes).
    func nested(_ payload: UnsafeRawBufferPointer, _ type: StaticString) -> WireReader {
        guard let base = payload.baseAddress else {
            return WireReader(origin: origin, fileSize: fileSize, message: type, start: 0, end: 0)
        }
        let start = UnsafeRawPointer(base) - origin
        return WireReader(origin: origin, fileSize: fileSize, message: type, start: start, end: start + payload.count)
    }

    // MARK: Repeated scalars (packed or not)

    /// How many elements one occurrence of a repeated scalar field holds (1 unpacked, n packed), and skips it.
    /// Used to size arrays exactly before filling them.
    mutating func countElements(_ field: Field, _ kind: Scalar) throws(ONNXFormatError) -> Int {
        if field.wireType == kind.wireType {
            try skip(field)
            return 1
        }
        try expect(field, wireType: 2)
        let range = try lengthDelimited(field)
        switch kind {
        case .fixed32, .fixed64:
            let width = kind == .fixed32 ? 4 : 8
            guard range.count % width == 0 else {
                throw malformed(
                    "packed field \(field.number) has \(range.count) bytes, not a multiple of \(width)",
                    at: field.offset)
            }
            return range.count / width
        case .varint:
            // Each varint ends with the one byte whose high bit is clear.
            var count = 0
            for i in range where origin.load(fromByteOffset: i, as: UInt8.self) & 0x80 == 0 { count += 1 }
            guard range.isEmpty || origin.load(fromByteOffset: range.upperBound - 1, as: UInt8.self) & 0x80 == 0 else {
                throw malformed("packed field \(field.number) ends inside a varint", at: field.offset)
            }
            return count
        }
    }

    /// Reads one occurrence of a repeated scalar field, packed or not, calling `element` with each value's bit
    /// pattern (a varint's value, or the little-endian bits of a float/double).
    mutating func forEachElement(
        _ field: Field, _ kind: Scalar, _ element: (UInt64) -> Void
    ) throws(ONNXFormatError) {
        if field.wireType == kind.wireType {
            switch kind {
            case .varint: element(try varint())
            case .fixed32: element(UInt64(try fixed32()))
            case .fixed64: element(try fixed64())
            }
            return
        }
        var packed = try message(field, message)
        while !packed.isAtEnd {
            switch kind {
            case .varint: element(try packed.varint())
            case .fixed32: element(UInt64(try packed.fixed32()))
            case .fixed64: element(try packed.fixed64())
            }
        }
    }
}
