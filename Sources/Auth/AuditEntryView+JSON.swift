#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension AuditEntryView {
    /// Room the JSON line can take: the fixed keys and numbers, plus every field byte escaped at worst to six
    /// (`\u00XX`; a byte of broken UTF-8 becomes the three bytes of U+FFFD).
    var jsonBound: Int { 384 + 6 * length }

    /// Appends this entry as one JSON line (with the trailing newline). Runs on the writer thread; `clock`
    /// caches the date-time prefix of the current second.
    func appendJSONLine(to out: inout AuditBytes, clock: inout AuditTimestampCache) {
        out.reserve(jsonBound)
        var f = fields
        out.put(#"{"time":""#)
        clock.append(time, to: &out)
        out.put(#"","request_id":"#)
        out.putJSONString(f.next())
        out.put(UInt8(ascii: ","))
        let identity = f.next()
        if let p = identity.baseAddress { out.put(p, identity.count) }
        out.put(#","peer":"#)
        out.putJSONString(f.next())
        out.put(#","rpc":"#)
        out.putJSONString(f.next())
        out.put(#","model":"#)
        out.putJSONString(f.next())
        out.put(#","selector":"#)
        out.putJSONString(f.next())
        out.put(#","version":"#)
        if let v = version { out.putDecimal(v) } else { out.put("null") }
        out.put(#","variant":"#)
        out.putJSONString(f.next())
        out.put(allowed ? #","decision":"allowed","reason":"# : #","decision":"denied","reason":"#)
        out.putJSONString(f.next())
        out.put(#","grpc_status":"#)
        out.putDecimal(Int64(grpcStatus))
        out.put(#","latency_us":"#)
        out.putDecimal(latencyMicros)
        out.put("}\n")
    }
}

extension AuditBytes {
    /// A JSON string literal of UTF-8 bytes: quotes, backslashes and control characters escaped, broken UTF-8
    /// replaced by U+FFFD. Printable ASCII without quotes or backslashes (the usual case) is one copy.
    @inline(__always)
    mutating func putJSONString(_ bytes: UnsafeRawBufferPointer) {
        put(UInt8(ascii: "\""))
        var plain = true
        for b in bytes where b < 0x20 || b >= 0x7F || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
            plain = false
            break
        }
        if plain {
            if let p = bytes.baseAddress { put(p, bytes.count) }
        } else {
            putEscaped(bytes)
        }
        put(UInt8(ascii: "\""))
    }

    @inline(never)
    private mutating func putEscaped(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)  // repairs broken UTF-8
        reserve(6 * text.utf8.count)
        let hex: StaticString = "0123456789abcdef"
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "\""): put(#"\""#)
            case UInt8(ascii: "\\"): put(#"\\"#)
            case UInt8(ascii: "\n"): put(#"\n"#)
            case UInt8(ascii: "\r"): put(#"\r"#)
            case UInt8(ascii: "\t"): put(#"\t"#)
            case 0..<0x20, 0x7F:
                put(#"\u00"#)
                put(hex.utf8Start[Int(b >> 4)])
                put(hex.utf8Start[Int(b & 15)])
            default: put(b)
            }
        }
    }
}

/// RFC 3339 UTC timestamps with milliseconds (`2026-11-29T01:39:06.123Z`); the `YYYY-MM-DDTHH:MM:SS` part is
/// computed once per second.
struct AuditTimestampCache {
    private var second: Int64 = .min
    private var prefix: [UInt8] = []

    mutating func append(_ t: Double, to out: inout AuditBytes) {
        let floor = t.rounded(.down)
        let s = Int64(floor)
        if s != second {
            second = s
            prefix = Self.format(s)
        }
        out.reserve(prefix.count + 5)
        prefix.withUnsafeBytes { out.put($0.baseAddress!, $0.count) }
        let ms = min(999, max(0, Int((t - floor) * 1000)))
        out.put(UInt8(ascii: "."))
        out.put(UInt8(48 + ms / 100))
        out.put(UInt8(48 + ms / 10 % 10))
        out.put(UInt8(48 + ms % 10))
        out.put(UInt8(ascii: "Z"))
    }

    private static func format(_ seconds: Int64) -> [UInt8] {
        var secs = time_t(seconds)
        var tm = tm()
        gmtime_r(&secs, &tm)
        var out: [UInt8] = []
        func digits(_ v: Int32, _ n: Int) {
            var d: [UInt8] = []
            var v = max(0, v)
            for _ in 0..<n {
                d.append(UInt8(48 + v % 10))
                v /= 10
            }
            out.append(contentsOf: d.reversed())
        }
        digits(tm.tm_year + 1900, 4)
        out.append(UInt8(ascii: "-"))
        digits(tm.tm_mon + 1, 2)
        out.append(UInt8(ascii: "-"))
        digits(tm.tm_mday, 2)
        out.append(UInt8(ascii: "T"))
        digits(tm.tm_hour, 2)
        out.append(UInt8(ascii: ":"))
        digits(tm.tm_min, 2)
        out.append(UInt8(ascii: ":"))
        digits(tm.tm_sec, 2)
        return out
    }
}
