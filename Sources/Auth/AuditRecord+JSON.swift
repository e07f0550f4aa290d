#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension AuditRecord {
    /// Appends this record as one JSON line (with the trailing newline) to `out`. Runs on the writer thread;
    /// `clock` caches the date-time prefix of the current second.
    func appendJSONLine(to out: inout [UInt8], clock: inout AuditTimestampCache) {
        out.append(contentsOf: #"{"time":""#.utf8)
        clock.append(time, to: &out)
        out.append(contentsOf: #"","request_id":"#.utf8)
        Self.appendString(requestID, to: &out)
        out.append(contentsOf: #","principal":"#.utf8)
        Self.appendString(principal, to: &out)
        out.append(contentsOf: #","auth_method":""#.utf8)
        out.append(contentsOf: method.rawValue.utf8)
        out.append(contentsOf: #"","credential_id":"#.utf8)
        Self.appendString(credentialID, to: &out)
        out.append(contentsOf: #","peer":"#.utf8)
        Self.appendString(peer, to: &out)
        out.append(contentsOf: #","rpc":"#.utf8)
        Self.appendString(rpc, to: &out)
        out.append(contentsOf: #","model":"#.utf8)
        Self.appendString(model, to: &out)
        out.append(contentsOf: #","selector":"#.utf8)
        Self.appendString(selector, to: &out)
        out.append(contentsOf: #","version":"#.utf8)
        if let v = resolvedVersion { Self.appendInt(v, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","variant":"#.utf8)
        Self.appendString(variant, to: &out)
        out.append(contentsOf: #","decision":"#.utf8)
        out.append(contentsOf: (allowed ? #""allowed""# : #""denied""#).utf8)
        out.append(contentsOf: #","reason":"#.utf8)
        Self.appendString(reason, to: &out)
        out.append(contentsOf: #","grpc_status":"#.utf8)
        Self.appendInt(Int64(grpcStatus), to: &out)
        out.append(contentsOf: #","latency_us":"#.utf8)
        Self.appendInt(latencyMicros, to: &out)
        out.append(contentsOf: "}\n".utf8)
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
        let utf8 = s.utf8
        // Fast path: nothing to escape (the usual case) → one bulk copy.
        if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 == 0x7F }) {
            out.append(contentsOf: utf8)
            out.append(UInt8(ascii: "\""))
            return
        }
        let hex = Array("0123456789abcdef".utf8)
        for b in utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): out.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): out.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): out.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20, 0x7F:
                out.append(contentsOf: #"\u00"#.utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
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
