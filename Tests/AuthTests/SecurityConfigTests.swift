import Foundation
import Testing

@testable import Auth

@Suite("Security configuration")
struct SecurityConfigTests {
    func error(_ json: String) -> String? {
        do {
            let c = try SecurityConfig.parse(Array(json.utf8), source: "sec.json", baseDirectory: "/etc/sluice")
            _ = try AuthService(config: c)
            return nil
        } catch { return error.description }
    }

    @Test(
        "mistakes get precise messages",
        arguments: [
            (#"{"apikeys": []}"#, "unknown field \"apikeys\""),
            (
                #"{"apiKeys": [{"id": "a", "sha256": "abc", "principal": "p", "roles": []}]}"#,
                "apiKeys[0].sha256: expected 64 hex digits"
            ),
            (
                #"{"apiKeys": [{"id": "a", "sha256": "\#(String(repeating: "0", count: 64))", "principal": "p", "roles": ["root"]}]}"#,
                "unknown role \"root\""
            ),
            (
                #"{"apiKeys": [{"id": "a", "sha256": "\#(String(repeating: "0", count: 64))", "principal": "p", "roles": [], "expires": "soon"}]}"#,
                "apiKeys[0].expires"
            ),
            (#"{"roles": {"x": [{"rpc": "Delete", "model": "*"}]}}"#, "roles.x[0].rpc"),
            (#"{"bindings": [{"roles": ["admin"]}]}"#, "needs exactly one of \"subject\" and \"jwtRole\""),
            (#"{"bindings": [{"subject": "a", "method": "password", "roles": []}]}"#, "bindings[0].method"),
            (
                #"{"bindings": [{"subject": "a", "roles": [], "rateLimits": {"predict": {"requestsPerSecond": 0}}}]}"#,
                "requestsPerSecond must be > 0"
            ),
            (
                #"{"bindings": [{"subject": "a", "roles": [], "rateLimits": {"writes": {"requestsPerSecond": 1}}}]}"#,
                "unknown rate class"
            ),
            (#"{"audit": {"onFailure": "maybe"}}"#, "audit.onFailure"),
            (#"{"jwt": {"issuer": "i", "keys": []}}"#, "jwt.audience: missing"),
            (#"{"jwt": {"issuer": "i", "audience": "a", "leewaySeconds": 9999, "keys": []}}"#, "jwt.leewaySeconds"),
            (#"{"health": {"open": "yes"}}"#, "health.open"),
            (#"{"apiKeys": [] "#, "invalid JSON"),
        ])
    func mistakes(json: String, message: String) {
        let e = error(json)
        #expect(e?.contains(message) == true, "got: \(e ?? "no error")")
        #expect(e?.hasPrefix("sec.json") == true)
    }

    @Test("a complete example parses with its defaults and relative paths resolved")
    func complete() throws {
        let c = try SecurityConfig.parse(
            Array(
                """
                {"$comment": "example",
                 "jwt": {"issuer": "https://id.example", "audience": "sluice", "jwksFile": "jwks.json"},
                 "apiKeys": [{"id": "k", "sha256": "\(String(repeating: "ab", count: 32))", "principal": "p", "roles": ["predictor"],
                              "expires": "2027-01-31T00:00:00Z"}],
                 "bindings": [{"subject": "p", "roles": ["viewer"], "rateLimits": {"predict": {"requestsPerSecond": 50}}}],
                 "audit": {"path": "audit/audit.log", "onFailure": "fail-closed"}}
                """.utf8), source: "x", baseDirectory: "/etc/sluice")
        #expect(c.jwt?.leewaySeconds == 30 && c.jwt?.rolesClaim == "roles" && c.jwt?.maxTokenBytes == 8192)
        #expect(c.jwt?.jwksFile == "/etc/sluice/jwks.json")
        #expect(c.audit.path == "/etc/sluice/audit/audit.log" && c.audit.onFailure == .failClosed)
        #expect(c.apiKeys.first?.expires == 1_801_353_600)
        #expect(c.bindings.first?.rateLimits["predict"] == .init(requestsPerSecond: 50, burst: 50))
        #expect(c.healthOpen)
    }

    @Test("relative paths resolve against the directory NSString.deletingLastPathComponent gave")
    func configDirectory() {
        for path in ["sec.json", "/sec.json", "/etc/sluice/sec.json", "conf/sec.json", "a/b/", "a//b", "/", "", "./x"] {
            #expect(SecurityConfig.directory(of: path) == (path as NSString).deletingLastPathComponent, "\(path)")
        }
    }

    @Test("expiry timestamps parse as ISO8601DateFormatter read them (with or without fractional seconds)")
    func timestamps() {
        let formatter = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions.insert(.withFractionalSeconds)
        for text in [
            "2027-01-31T00:00:00Z", "2027-01-31T01:30:00+01:30", "2027-01-31T00:00:00.25Z", "2027-01-31",
            "2027-01-31T00:00:00", "2027-01-31 00:00:00Z", "garbage", "",
        ] {
            let expected = (formatter.date(from: text) ?? fractional.date(from: text))?.timeIntervalSince1970
            #expect(SecurityConfig.parseTimestamp(text) == expected, "\(text)")
        }
    }
}

@Suite("Example configuration")
struct ExampleConfigTests {
    @Test("deploy/security.example.json parses and its roles and bindings are consistent")
    func example() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.appendingPathComponent("deploy/security.example.json").path
        let c = try SecurityConfig.load(path: path)
        _ = try RBACPolicy(config: c)
        #expect(c.jwt?.keys.count == 1 && c.apiKeys.count == 2 && c.bindings.count == 5)
        #expect(c.audit.onFailure == .failClosed && c.healthOpen)
        let rbac = try RBACPolicy(config: c)
        let roles = rbac.effectiveRoles(subject: "carol", method: .jwt, direct: ["viewer"], claimRoles: ["fraud-team"])
        #expect(roles == ["fraud-predictor", "viewer"])
        #expect(rbac.permissions(for: roles).allows(.predict, model: "fraud-eu"))
        #expect(!rbac.permissions(for: roles).allows(.predict, model: "churn"))
    }
}
