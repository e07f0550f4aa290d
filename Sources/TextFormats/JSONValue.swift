/// A parsed JSON value. Used for JWT headers and claims, where we need exact types (a string `exp` is not a
/// number), and duplicate member names must be rejected (two parsers reading "the same" token differently is a
/// classic JWT confusion); also for the REST layer's request bodies (Open Inference JSON tensors) and the offline
/// batch files (`sluice score` inputs, `sluice models profile` JSON Lines), so that no target needs Foundation's
/// `JSONSerialization`.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// Every JSON number, finite; integers beyond 2^53 lose precision.
    case number(Double)
    /// Escapes decoded; the parser refuses invalid UTF-8 and lone surrogates, so the text is valid Unicode.
    case string(String)
    /// Items in document order.
    case array([JSONValue])
    /// Members by name (their order is not kept; the parser rejects duplicate names, so none is lost).
    case object([String: JSONValue])

    /// The text of a `.string`; `nil` for every other case (no conversion from numbers).
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value of a `.number`; `nil` for every other case (a numeric string is not a number).
    public var numberValue: Double? {
        if case .number(let n) = self { return n }
        return nil
    }

    /// The member `key` of an `.object`; `nil` when it is absent or `self` is not an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

/// Why a JSON document was rejected.
public struct JSONParseError: Error, Equatable, CustomStringConvertible {
    /// The byte offset into the document where parsing stopped.
    public let offset: Int
    /// What was wrong there, e.g. `duplicate member "exp"`.
    public let what: String
    public var description: String { "invalid JSON at byte \(offset): \(what)" }
}

/// A strict RFC 8259 parser over UTF-8 bytes: no trailing garbage, no duplicate names, bounded nesting.
public struct JSONParser {
    /// The document, as UTF-8.
    private let bytes: [UInt8]
    /// The read position: an index into `bytes`, and the offset errors report.
    private var i = 0
    /// Arrays and objects open at the read position.
    private var depth = 0
    /// The deepest nesting of arrays and objects accepted, (the parser recurses once per level).
    private static let maxDepth = 32

    /// Parses one complete JSON document (whitespace around it allowed).
    ///
    /// - Throws: ``JSONParseError`` with the byte offset for any syntax error, trailing data, a duplicate member name,
    ///   nesting deeper than 32, an unpaired surrogate, invalid UTF-8 in a string, or a number outside `Double`'s
    ///   finite range.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        var p = JSONParser(bytes: bytes)
        p.skipWhitespace()
        let v = try p.value()
        p.skipWhitespace()
        if p.i != bytes.count { throw p.error("unexpected trailing data") }
        return v
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    /// An error at the current read position.
    private func error(_ what: String) -> JSONParseError { JSONParseError(offset: i, what: what) }

    /// Skips the four whitespace bytes JSON allows: space, line feed, carriage return, tab.
    private mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 {
            i += 1
        }
    }

    /// Parses the value at the read position (no whitespace skipped first).
    private mutating func value() throws(JSONParseError) -> JSONValue {
        guard i < bytes.count else { throw error("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return .number(try number())
        }
    }

    /// Consumes `true`, `false` or `null`, byte by byte.
    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= bytes.count else { throw error("unexpected end") }
        let p = word.utf8Start
        for k in 0..<n where bytes[i + k] != p[k] { throw error("invalid literal") }
        i += n
    }

    /// Counts one more level of nesting (arrays and objects decrement it on their way out).
    private mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth)") }
    }

    /// Parses an object from its `{`; a member name seen twice is an error.
    private mutating func object() throws(JSONParseError) -> JSONValue {
        try enter()
        i += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a member name") }
            let name = try string()
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipWhitespace()
            let v = try value()
            if members.updateValue(v, forKey: name) != nil { throw error("duplicate member \"\(name)\"") }
            skipWhitespace()
            guard i < bytes.count else { throw error("unexpected end") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard bytes[i] == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
            i += 1
            depth -= 1
            return .object(members)
        }
    }

    /// Parses an array from its `[`.
    private mutating func array() throws(JSONParseError) -> JSONValue {
        try enter()
        i += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            depth -= 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try value())
            skipWhitespace()
            guard i < bytes.count else { throw error("unexpected end") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard bytes[i] == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
            i += 1
            depth -= 1
            return .array(items)
        }
    }

    /// Reads the four hex digits of a `\u` escape.
    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// Reads a string from its opening quote; surrogate pairs are combined, a lone surrogate is an error.
    private mutating func string() throws(JSONParseError) -> String {
        i += 1  // opening quote
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw error("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                break
            }
            if c < 0x20 { throw error("control character in string") }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { throw error("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard i + 2 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u")
                    else { throw error("unpaired surrogate") }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw error("unpaired surrogate")
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("invalid code point") }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default:
                throw error("invalid escape")
            }
        }
        // Invalid UTF-8 is an error, not a silent repair.
        guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
        return s
    }

    /// Reads a number with RFC 8259's grammar (no leading zeros, no `+`, digits after `.` and `e`); infinite values
    /// are refused.
    private mutating func number() throws(JSONParseError) -> Double {
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) else {
            throw error("unexpected character")
        }
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            let digits = i
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            if i == digits { throw error("digit expected after '.'") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let digits = i
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            if i == digits { throw error("digit expected in exponent") }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        guard let d = Double(text), d.isFinite else { throw error("number out of range") }
        return d
    }
}
