#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension AuditRecord {
    /// Field prefixes as byte arrays: appending them is a memcpy.
    private enum Key {
        static let time = Array(#"{"time":""#.utf8)
        static let requestID = Array(#"","request_id":"#.utf8)
        static let principal = Array(#","principal":"#.utf8)
        static let method = Array(#","auth_method":""#.utf8)
        static let credentialID = Array(#"","credential_id":"#.utf8)
        static let peer = Array(#","peer":"#.utf8)
        static let rpc = Array(#","rpc":"#.utf8)
        static let model = Array(#","model":"#.utf8)
        static let selector = Array(#","selector":"#.utf8)
        static let version = Array(#","version":"#.utf8)
        static let variant = Array(#","variant":"#.utf8)
        static let allowed = Array(#","decision":"allowed","reason":"#.utf8)
        static let denied = Array(#","decision":"denied","reason":"#.utf8)
        static let status = Array(#","grpc_status":"#.utf8)
        static let latency = Array(#","latency_us":"#.utf8)
        static let end = Array("}\n".utf8)
        static let null = Array("null".utf8)
        static let jwt = Array("jwt".utf8)
        static let apiKey = Array("api-key".utf8)
        static let mtls = Array("mtls".utf8)
        static let none = Array("none".utf8)

        static func method(_ m: AuthMethod) -> [UInt8] {
            switch m {
            case .jwt: jwt
            case .apiKey: apiKey
            case .mtls: mtls
            case .none: none
            }
        }
    }

    /// Appends this record as one JSON line (with the trailing newline) to `out`. Runs on the writer thread;
    /// `clock` caches the date-time prefix of the current second.
    func appendJSONLine(to out: inout [UInt8], clock: inout AuditTimestampCache) {
        out.append(contentsOf: Key.time)
        clock.append(time, to: &out)
        out.append(contentsOf: Key.requestID)
        Self.appendString(requestID, to: &out)
        out.append(contentsOf: Key.principal)
        Self.appendString(principal, to: &out)
        out.append(contentsOf: Key.method)
        out.append(contentsOf: Key.method(method))
        out.append(contentsOf: Key.credentialID)
        Self.appendString(credentialID, to: &out)
        out.append(contentsOf: Key.peer)
        Self.appendString(peer, to: &out)
        out.append(contentsOf: Key.rpc)
        Self.appendString(rpc, to: &out)
        out.append(contentsOf: Key.model)
        Self.appendString(model, to: &out)
        out.append(contentsOf: Key.selector)
        Self.appendString(selector, to: &out)
        out.append(contentsOf: Key.version)
        if let v = resolvedVersion { Self.appendInt(v, to: &out) } else { out.append(contentsOf: Key.null) }
        out.append(contentsOf: Key.variant)
        Self.appendString(variant, to: &out)
        out.append(contentsOf: allowed ? Key.allowed : Key.denied)
        Self.appendString(reason, to: &out)
        out.append(contentsOf: Key.status)
        Self.appendInt(Int64(grpcStatus), to: &out)
        out.append(contentsOf: Key.latency)
        Self.appendInt(latencyMicros, to: &out)
        out.append(contentsOf: Key.end)
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
