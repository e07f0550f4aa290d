#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension AuditRecord {
    /// Appends this record as one JSON line (with the trailing newline) to `out`.
    func appendJSONLine(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"time":""#.utf8)
        Self.appendTimestamp(time, to: &out)
        out.append(contentsOf: #"","request_id":"#.utf8)
        Self.appendString(requestID, to: &out)
        out.append(contentsOf: #","principal":"#.utf8)
        Self.appendString(principal, to: &out)
        out.append(contentsOf: #","auth_method":"#.utf8)
        Self.appendString(method.rawValue, to: &out)
        out.append(contentsOf: #","credential_id":"#.utf8)
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
        if let v = resolvedVersion {
            out.append(contentsOf: String(v).utf8)
        } else {
            out.append(contentsOf: "null".utf8)
        }
        out.append(contentsOf: #","variant":"#.utf8)
        Self.appendString(variant, to: &out)
        out.append(contentsOf: #","decision":"#.utf8)
        out.append(contentsOf: (allowed ? #""allowed""# : #""denied""#).utf8)
        out.append(contentsOf: #","reason":"#.utf8)
        Self.appendString(reason, to: &out)
        out.append(contentsOf: #","grpc_status":"#.utf8)
        out.append(contentsOf: String(grpcStatus).utf8)
        out.append(contentsOf: #","latency_us":"#.utf8)
        out.append(contentsOf: String(latencyMicros).utf8)
        out.append(contentsOf: "}\n".utf8)
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped; UTF-8 passed through.
    static func appendString(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
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

    /// RFC 3339 UTC with milliseconds: `2026-11-29T01:39:06.123Z`.
    static func appendTimestamp(_ t: Double, to out: inout [UInt8]) {
        var secs = time_t(t.rounded(.down))
        var ms = Int((t - Double(secs)) * 1000)
        if ms > 999 { ms = 999 }
        var tm = tm()
        gmtime_r(&secs, &tm)
        func two(_ v: Int32) {
            out.append(UInt8(48 + v / 10))
            out.append(UInt8(48 + v % 10))
        }
        let year = Int(tm.tm_year) + 1900
        out.append(contentsOf: String(year).utf8)
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
        out.append(UInt8(ascii: "."))
        out.append(UInt8(48 + ms / 100))
        out.append(UInt8(48 + ms / 10 % 10))
        out.append(UInt8(48 + ms % 10))
        out.append(UInt8(ascii: "Z"))
    }
}
