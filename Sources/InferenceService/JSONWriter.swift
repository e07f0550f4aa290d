/// Writes JSON text into a byte buffer (the REST responses): keys, strings with escapes, numbers, nesting.
/// Commas are placed automatically; the caller only says what comes next.
struct JSONWriter {
    /// The UTF-8 JSON written so far; complete once the outermost object or array has closed.
    private(set) var bytes: [UInt8] = []
    /// Whether the next value at the current level needs a comma first.
    private var needsComma = false

    /// Starts empty with `capacity` bytes reserved, so small responses are written without regrowing the buffer.
    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// Writes the comma a new value needs after a sibling, and marks the level as non-empty.
    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
    }

    /// `{ ... }`; `body` writes the members with ``key(_:)`` and a value each.
    mutating func object(_ body: (inout JSONWriter) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// `[ ... ]` of `items`, each written by `element`.
    mutating func array<S: Sequence>(_ items: S, _ element: (inout JSONWriter, S.Element) -> Void) {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
        for item in items { element(&self, item) }
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// `"name":` (the next value follows without a comma).
    mutating func key(_ name: String) {
        separate()
        appendString(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// A JSON string, escaping quotes, backslashes and control characters; other UTF-8 is copied unchanged.
    mutating func string(_ value: String) {
        separate()
        appendString(value)
    }

    /// A string from raw UTF-8 bytes (invalid sequences become U+FFFD).
    mutating func string(utf8 value: UnsafeRawBufferPointer) {
        separate()
        appendString(String(decoding: value, as: UTF8.self))
    }

    /// An integer in decimal. Values beyond 2^53 lose precision in JavaScript clients but are written exactly.
    mutating func integer(_ value: Int64) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// `true` or `false`.
    mutating func bool(_ value: Bool) {
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// A float; JSON has no NaN or infinity, so those are written as `null`.
    mutating func number(_ value: Float) {
        separate()
        if value.isFinite {
            bytes.append(contentsOf: value.description.utf8)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }

    /// A double in Swift's shortest round-tripping form; NaN and infinities are written as `null`.
    mutating func number(_ value: Double) {
        separate()
        if value.isFinite {
            bytes.append(contentsOf: value.description.utf8)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }

    /// Appends `value` quoted, with `\"`, `\\`, `\n`, `\r`, `\t` and `\u00XX` for the other control characters below
    /// 0x20.
    private mutating func appendString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [
                    UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)],
                    hex[Int(byte & 15)],
                ])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
