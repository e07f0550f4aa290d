import CryptoPrimitives
/// Creating API keys (`sluice keys create`). Keys are 32 random bytes, base64url, with a `slk_` prefix so secret
/// scanners can find leaked ones; the configuration stores only their SHA-256.
public enum APIKeys {
    /// A new key and its configuration entry.
    public struct Created: Sendable {
        /// The secret: shown once, never stored by Sluice.
        public let key: String
        /// Hex SHA-256 of `key`, for the configuration.
        public let sha256Hex: String
        /// The `apiKeys` entry to paste into the security configuration (one JSON object).
        public let configEntry: String
    }

    /// Why a key could not be created.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Generates a key for `principal` with `roles`; `expires` is RFC 3339 text or nil.
    public static func create(id: String, principal: String, roles: [String], expires: String?) throws(Failure)
        -> Created
    {
        guard !id.isEmpty, !principal.isEmpty else { throw Failure(description: "id and principal must not be empty") }
        if let expires, SecurityConfig.parseTimestamp(expires) == nil {
            throw Failure(description: "--expires \"\(expires)\" is not RFC 3339 (e.g. 2027-01-31T00:00:00Z)")
        }
        guard let random = Crypto.randomBytes(32) else {
            throw Failure(description: "the system random number generator failed")
        }
        let key = "slk_" + Base64URL.encode(random)
        let hex = sha256Hex(key)
        var out: [UInt8] = []
        out.append(contentsOf: #"{"id": "#.utf8)
        out.append(contentsOf: AuditEntry.quoted(id))
        out.append(contentsOf: #", "sha256": ""#.utf8)
        out.append(contentsOf: hex.utf8)
        out.append(contentsOf: #"", "principal": "#.utf8)
        out.append(contentsOf: AuditEntry.quoted(principal))
        out.append(contentsOf: #", "roles": ["#.utf8)
        for (k, r) in roles.enumerated() {
            if k > 0 { out.append(contentsOf: ", ".utf8) }
            out.append(contentsOf: AuditEntry.quoted(r))
        }
        out.append(UInt8(ascii: "]"))
        if let expires {
            out.append(contentsOf: #", "expires": "#.utf8)
            out.append(contentsOf: AuditEntry.quoted(expires))
        }
        out.append(UInt8(ascii: "}"))
        return Created(key: key, sha256Hex: hex, configEntry: String(decoding: out, as: UTF8.self))
    }

    /// Hex SHA-256 of a key, as stored in the configuration.
    public static func sha256Hex(_ key: String) -> String { Hex.encode(Crypto.sha256(key)) }
}
