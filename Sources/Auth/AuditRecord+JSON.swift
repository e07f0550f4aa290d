#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension AuditRecord {
    /// Appends a literal: a memcpy from the binary's constant data, with no reference counting.
    @inline(__always)
    static func appendStatic(_ s: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    private static func methodName(_ m: AuthMethod) -> StaticString {
        switch m {
        case .jwt: "jwt"
        case .apiKey: "api-key"
        case .mtls: "mtls"
        case .none: "none"
        }
    }

    /// Appends this record as one JSON line (with the trailing newline) to `out`. Runs on the writer thread;
    /// `clock` caches the date-time prefix of the current second.
    func appendJSONLine(to out: inout [UInt8], clock: inout AuditTimestampCache) {
        Self.appendStatic(#"{"time":""#, to: &out)
        clock.append(time, to: &out)
        Self.appendStatic(#"","request_id":"#, to: &out)
        Self.appendString(requestID, to: &out)
        Self.appendStatic(#","principal":"#, to: &out)
        Self.appendString(principal, to: &out)
        Self.appendStatic(#","auth_method":""#, to: &out)
        Self.appendStatic(Self.methodName(method), to: &out)
        Self.appendStatic(#"","credential_id":"#, to: &out)
        Self.appendString(credentialID, to: &out)
        Self.appendStatic(#","peer":"#, to: &out)
        Self.appendString(peer, to: &out)
        Self.appendStatic(#","rpc":"#, to: &out)
        Self.appendString(rpc, to: &out)
        Self.appendStatic(#","model":"#, to: &out)
        Self.appendString(model, to: &out)
        Self.appendStatic(#","selector":"#, to: &out)
        Self.appendString(selector, to: &out)
        Self.appendStatic(#","version":"#, to: &out)
        if let v = resolvedVersion { Self.appendInt(v, to: &out) } else { Self.appendStatic("null", to: &out) }
        Self.appendStatic(#","variant":"#, to: &out)
        Self.appendString(variant, to: &out)
        Self.appendStatic(allowed ? #","decision":"allowed","reason":"# : #","decision":"denied","reason":"#, to: &out)
        Self.appendString(reason, to: &out)
        Self.appendStatic(#","grpc_status":"#, to: &out)
        Self.appendInt(Int64(grpcStatus), to: &out)
        Self.appendStatic(#","latency_us":"#, to: &out)
        Self.appendInt(latencyMicros, to: &out)
        Self.appendStatic("}\n", to: &out)
    }

    /// Appends this record as one JSON line (convenience without a timestamp cache).
    func appendJSONLine(to out: inout [UInt8]) {
        var clock = AuditTimestampCache()
        appendJSONLine(to: &out, clock: &clock)
    }

    /// Decimal digits without allocating a String.
    static func appendInt(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var v = value.magnitude
        var count = 1
        var probe = v
        while probe >= 10 {
            probe /= 10
            count += 1
        }
        let end = out.count + count
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: count))
        var k = end - 1
        repeat {
            out[k] = UInt8(48 + v % 10)
            v /= 10
            k -= 1
        } while v > 0
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped; UTF-8 passed through.
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            // Fast path: nothing to escape (the usual case) → one memcpy.
            var clean = true
            for b in bytes where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b == 0x7F {
                clean = false
                break
            }
            if clean {
                out.append(contentsOf: bytes)
            } else {
                appendEscaped(bytes, to: &out)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                out.append(contentsOf: Array(#"\u00"#.utf8))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            default: out.append(b)
            }
        }
    }
}

/// RFC 3339 UTC timestamps with milliseconds (`2026-11-29T01:39:06.123Z`); the `YYYY-MM-DDTHH:MM:SS` part is
/// computed once per second.
struct AuditTimestampCache {
    private var second: Int64 = .min
    private var prefix: [UInt8] = []

    mutating func append(_ t: Double, to out: inout [UInt8]) {
        let floor = t.rounded(.down)
        let s = Int64(floor)
        if s != second {
            second = s
            prefix = Self.format(s)
        }
        out.append(contentsOf: prefix)
        let ms = min(999, max(0, Int((t - floor) * 1000)))
        out.append(UInt8(ascii: "."))
        out.append(UInt8(48 + ms / 100))
        out.append(UInt8(48 + ms / 10 % 10))
        out.append(UInt8(48 + ms % 10))
        out.append(UInt8(ascii: "Z"))
    }

    private static func format(_ seconds: Int64) -> [UInt8] {
        var secs = time_t(seconds)
        var tm = tm()
        gmtime_r(&secs, &tm)
        var out: [UInt8] = []
        func two(_ v: Int32) {
            out.append(UInt8(48 + v / 10))
            out.append(UInt8(48 + v % 10))
        }
        AuditRecord.appendInt(Int64(tm.tm_year) + 1900, to: &out)
        out.append(UInt8(ascii: "-"))
        two(tm.tm_mon + 1)
        out.append(UInt8(ascii: "-"))
        two(tm.tm_mday)
        out.append(UInt8(ascii: "T"))
        two(tm.tm_hour)
        out.append(UInt8(ascii: ":"))
        two(tm.tm_min)
        out.append(UInt8(ascii: ":"))
        two(tm.tm_sec)
        return out
    }
}
