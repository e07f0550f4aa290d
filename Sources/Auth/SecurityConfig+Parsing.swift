import FoundationEssentials
import TextFormats

extension SecurityConfig {
    /// Reads and validates a configuration file. Relative file paths inside it resolve against its directory.
    public static func load(path: String) throws(SecurityConfigError) -> SecurityConfig {
        let data: [UInt8]
        switch FileReading.read(path) {
        case .success(let bytes): data = bytes
        case .failure(let error):
            throw SecurityConfigError("\(path): cannot read the security configuration: \(error.reason)")
        }
        let base = directory(of: path)
        return try parse(data, source: path, baseDirectory: base.isEmpty ? "." : base)
    }

    /// The directory part of `path` as `NSString.deletingLastPathComponent` gives it: `a/b/c.json` → `a/b`,
    /// `c.json` → `` (empty), `/c.json` → `/`; trailing slashes are ignored.
    static func directory(of path: String) -> String {
        var text = Substring(path)
        while text.count > 1, text.hasSuffix("/") { text = text.dropLast() }
        guard let slash = text.lastIndex(of: "/") else { return "" }
        if slash == text.startIndex { return "/" }
        var parent = text[..<slash]
        while parent.count > 1, parent.hasSuffix("/") { parent = parent.dropLast() }
        return String(parent)
    }

    /// RFC 3339 / ISO 8601 text (`2027-01-31T00:00:00Z`, with or without fractional seconds) → seconds since the
    /// epoch.
    static func parseTimestamp(_ s: String) -> Double? {
        if let d = try? Date.ISO8601FormatStyle().parse(s) { return d.timeIntervalSince1970 }
        return (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(s))?.timeIntervalSince1970
    }

    /// Parses configuration JSON.
    public static func parse(_ bytes: [UInt8], source: String, baseDirectory: String) throws(SecurityConfigError)
        -> SecurityConfig
    {
        let root: JSONValue
        do { root = try JSONParser.parse(bytes) } catch { throw SecurityConfigError("\(source): \(error)") }
        var r = Reader(source: source, base: baseDirectory)
        return try r.config(root)
    }
}

/// Walks the JSON tree with the path of each field for error messages.
private struct Reader {
    let source: String
    let base: String

    func fail(_ path: String, _ what: String) -> SecurityConfigError {
        SecurityConfigError("\(source): \(path): \(what)")
    }

    func object(_ v: JSONValue, _ path: String, allowed: Set<String>) throws(SecurityConfigError) -> [String: JSONValue]
    {
        guard case .object(let o) = v else { throw fail(path, "expected an object") }
        for key in o.keys.sorted() where !allowed.contains(key) {
            throw fail(path, "unknown field \"\(key)\" (expected one of: \(allowed.sorted().joined(separator: ", ")))")
        }
        return o
    }

    func string(_ v: JSONValue?, _ path: String) throws(SecurityConfigError) -> String {
        guard let s = v?.stringValue else { throw fail(path, v == nil ? "missing" : "expected a string") }
        return s
    }

    func number(_ v: JSONValue?, _ path: String) throws(SecurityConfigError) -> Double {
        guard let n = v?.numberValue else { throw fail(path, v == nil ? "missing" : "expected a number") }
        return n
    }

    func int(_ v: JSONValue?, _ path: String, min: Int) throws(SecurityConfigError) -> Int {
        let n = try number(v, path)
        guard n == n.rounded(), n >= Double(min), n < 1e15 else { throw fail(path, "expected an integer ≥ \(min)") }
        return Int(n)
    }

    func strings(_ v: JSONValue?, _ path: String) throws(SecurityConfigError) -> [String] {
        switch v {
        case .string(let s)?: return [s]
        case .array(let a)?:
            var out: [String] = []
            for (k, item) in a.enumerated() { out.append(try string(item, "\(path)[\(k)]")) }
            return out
        default: throw fail(path, v == nil ? "missing" : "expected a string or a list of strings")
        }
    }

    func file(_ p: String) -> String { p.hasPrefix("/") ? p : base + "/" + p }

    mutating func config(_ root: JSONValue) throws(SecurityConfigError) -> SecurityConfig {
        let o = try object(
            root, "$",
            allowed: ["jwt", "apiKeys", "roles", "bindings", "defaultRateLimits", "audit", "health", "$comment"])
        var c = SecurityConfig()
        c.source = source
        if let j = o["jwt"] { c.jwt = try jwt(j) }
        if let a = o["apiKeys"] {
            guard case .array(let items) = a else { throw fail("apiKeys", "expected a list") }
            for (k, item) in items.enumerated() { c.apiKeys.append(try apiKey(item, "apiKeys[\(k)]")) }
            var seen = Set<String>()
            for key in c.apiKeys where !seen.insert(key.id).inserted {
                throw fail("apiKeys", "duplicate key id \"\(key.id)\"")
            }
        }
        if let r = o["roles"] {
            guard case .object(let roles) = r else { throw fail("roles", "expected an object of role → permissions") }
            for (name, perms) in roles {
                guard case .array(let list) = perms else {
                    throw fail("roles.\(name)", "expected a list of permissions")
                }
                var out: [SecurityConfig.Permission] = []
                for (k, p) in list.enumerated() { out.append(try permission(p, "roles.\(name)[\(k)]")) }
                c.roles[name] = out
            }
        }
        if let b = o["bindings"] {
            guard case .array(let items) = b else { throw fail("bindings", "expected a list") }
            for (k, item) in items.enumerated() { c.bindings.append(try binding(item, "bindings[\(k)]")) }
        }
        if let d = o["defaultRateLimits"] { c.defaultRateLimits = try rateLimits(d, "defaultRateLimits") }
        if let a = o["audit"] { c.audit = try audit(a) }
        if let h = o["health"] {
            let ho = try object(h, "health", allowed: ["open"])
            if let open = ho["open"] {
                guard case .bool(let b) = open else { throw fail("health.open", "expected true or false") }
                c.healthOpen = b
            }
        }
        return c
    }

    func jwt(_ v: JSONValue) throws(SecurityConfigError) -> SecurityConfig.JWT {
        let o = try object(
            v, "jwt",
            allowed: [
                "issuer", "audience", "leewaySeconds", "rolesClaim", "jwksFile", "keys", "cacheSize", "maxTokenBytes",
            ])
        var j = SecurityConfig.JWT(
            issuer: try string(o["issuer"], "jwt.issuer"), audiences: try strings(o["audience"], "jwt.audience"))
        if j.issuer.isEmpty { throw fail("jwt.issuer", "must not be empty") }
        if j.audiences.isEmpty { throw fail("jwt.audience", "must not be empty") }
        if let l = o["leewaySeconds"] {
            j.leewaySeconds = try number(l, "jwt.leewaySeconds")
            guard (0...600).contains(j.leewaySeconds) else { throw fail("jwt.leewaySeconds", "expected 0...600") }
        }
        if let r = o["rolesClaim"] { j.rolesClaim = try string(r, "jwt.rolesClaim") }
        if let f = o["jwksFile"] { j.jwksFile = file(try string(f, "jwt.jwksFile")) }
        if let c = o["cacheSize"] { j.cacheSize = try int(c, "jwt.cacheSize", min: 16) }
        if let m = o["maxTokenBytes"] {
            j.maxTokenBytes = try int(m, "jwt.maxTokenBytes", min: 256)
            guard j.maxTokenBytes <= 8192 else { throw fail("jwt.maxTokenBytes", "at most 8192") }
        }
        if let k = o["keys"] {
            guard case .array(let items) = k else { throw fail("jwt.keys", "expected a list") }
            for (n, item) in items.enumerated() {
                let p = "jwt.keys[\(n)]"
                let ko = try object(item, p, allowed: ["kid", "alg", "file"])
                let algName = try string(ko["alg"], "\(p).alg")
                guard let alg = JWTAlgorithm(rawValue: algName) else {
                    throw fail("\(p).alg", "\"\(algName)\" is not one of RS256, ES256, EdDSA, HS256")
                }
                j.keys.append(
                    .init(
                        kid: try string(ko["kid"], "\(p).kid"), algorithm: alg,
                        file: file(try string(ko["file"], "\(p).file"))))
            }
        }
        if j.jwksFile == nil && j.keys.isEmpty { throw fail("jwt", "needs \"jwksFile\" or \"keys\"") }
        return j
    }

    func apiKey(_ v: JSONValue, _ p: String) throws(SecurityConfigError) -> SecurityConfig.APIKey {
        let o = try object(v, p, allowed: ["id", "sha256", "principal", "roles", "expires", "$comment"])
        let hex = try string(o["sha256"], "\(p).sha256")
        guard let hash = Hex.decode(hex), hash.count == 32 else {
            throw fail("\(p).sha256", "expected 64 hex digits (the SHA-256 of the key; see `sluice keys create`)")
        }
        var expires: Double?
        switch o["expires"] {
        case nil, .null?: break
        case .number(let n)?: expires = n
        case .string(let s)?:
            guard let t = SecurityConfig.parseTimestamp(s) else {
                throw fail("\(p).expires", "expected RFC 3339 like 2027-01-31T00:00:00Z or seconds since the epoch")
            }
            expires = t
        default: throw fail("\(p).expires", "expected RFC 3339 text or a number")
        }
        let id = try string(o["id"], "\(p).id")
        let principal = try string(o["principal"], "\(p).principal")
        if id.isEmpty || principal.isEmpty { throw fail(p, "id and principal must not be empty") }
        return .init(
            id: id, sha256: hash, principal: principal, roles: try strings(o["roles"], "\(p).roles"), expires: expires)
    }

    func permission(_ v: JSONValue, _ p: String) throws(SecurityConfigError) -> SecurityConfig.Permission {
        let o = try object(v, p, allowed: ["rpc", "model"])
        let rpc = try string(o["rpc"], "\(p).rpc")
        if rpc != "*" && AuthRPC(name: rpc).map({ $0 != .health }) != true {
            throw fail("\(p).rpc", "\"\(rpc)\" is not one of Predict, BatchPredict, GetModelVersion, Rollout, *")
        }
        let model = try string(o["model"], "\(p).model")
        if model.isEmpty { throw fail("\(p).model", "must not be empty (use \"*\" for every model)") }
        return .init(rpc: rpc, model: model)
    }

    func binding(_ v: JSONValue, _ p: String) throws(SecurityConfigError) -> SecurityConfig.Binding {
        let o = try object(v, p, allowed: ["subject", "method", "jwtRole", "roles", "rateLimits", "$comment"])
        var b = SecurityConfig.Binding(roles: [], rateLimits: [:])
        if let s = o["subject"] { b.subject = try string(s, "\(p).subject") }
        if let j = o["jwtRole"] { b.jwtRole = try string(j, "\(p).jwtRole") }
        if let m = o["method"] {
            let name = try string(m, "\(p).method")
            guard let method = AuthMethod(rawValue: name), method != .none else {
                throw fail("\(p).method", "expected jwt, api-key or mtls")
            }
            b.method = method
        }
        if (b.subject == nil) == (b.jwtRole == nil) {
            throw fail(p, "needs exactly one of \"subject\" and \"jwtRole\"")
        }
        if b.jwtRole != nil && b.method != nil { throw fail("\(p).method", "only applies to \"subject\" bindings") }
        b.roles = o["roles"] == nil ? [] : try strings(o["roles"], "\(p).roles")
        if let r = o["rateLimits"] { b.rateLimits = try rateLimits(r, "\(p).rateLimits") }
        return b
    }

    func rateLimits(_ v: JSONValue, _ p: String) throws(SecurityConfigError) -> [String: SecurityConfig.RateLimit] {
        guard case .object(let o) = v else { throw fail(p, "expected an object of class → {requestsPerSecond, burst}") }
        var out: [String: SecurityConfig.RateLimit] = [:]
        for (cls, limit) in o {
            guard cls == "*" || RateClass(rawValue: cls) != nil else {
                throw fail("\(p).\(cls)", "unknown rate class (expected predict, metadata, rollout, health or *)")
            }
            let lo = try object(limit, "\(p).\(cls)", allowed: ["requestsPerSecond", "burst"])
            let rps = try number(lo["requestsPerSecond"], "\(p).\(cls).requestsPerSecond")
            let burst =
                try lo["burst"].map { v throws(SecurityConfigError) in try number(v, "\(p).\(cls).burst") }
                ?? max(1, rps)
            guard rps > 0, burst >= 1 else { throw fail("\(p).\(cls)", "requestsPerSecond must be > 0 and burst ≥ 1") }
            out[cls] = .init(requestsPerSecond: rps, burst: burst)
        }
        return out
    }

    func audit(_ v: JSONValue) throws(SecurityConfigError) -> SecurityConfig.Audit {
        let o = try object(v, "audit", allowed: ["path", "maxBytes", "keep", "onFailure", "queueCapacity"])
        var a = SecurityConfig.Audit()
        if let p = o["path"] { a.path = file(try string(p, "audit.path")) }
        if let m = o["maxBytes"] { a.maxBytes = try int(m, "audit.maxBytes", min: 4096) }
        if let k = o["keep"] { a.keep = try int(k, "audit.keep", min: 1) }
        if let q = o["queueCapacity"] { a.queueCapacity = try int(q, "audit.queueCapacity", min: 16) }
        if let f = o["onFailure"] {
            let s = try string(f, "audit.onFailure")
            guard let mode = SecurityConfig.AuditFailureMode(rawValue: s) else {
                throw fail("audit.onFailure", "expected \"fail-open\" or \"fail-closed\"")
            }
            a.onFailure = mode
        }
        return a
    }
}

/// Lower- or upper-case hex.
enum Hex {
    static func decode(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        func nib(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var k = 0
        while k < u.count {
            guard let h = nib(u[k]), let l = nib(u[k + 1]) else { return nil }
            out.append(h << 4 | l)
            k += 2
        }
        return out
    }

    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
