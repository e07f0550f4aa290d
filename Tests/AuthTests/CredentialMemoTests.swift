import Foundation
import Testing

@testable import Auth

/// The per-thread memo of authenticated credentials must never answer for another service, another policy, an
/// expired credential or a different credential.
@Suite("Credential memo")
struct CredentialMemoTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI.shared() }

    func call(_ s: AuthService, key: String, now: Double? = nil) -> AuthDecision {
        s.authorize(AuthRequest(rpc: .predict, model: "churn", apiKey: key, peer: "10.0.0.1:1"), now: now)
    }

    @Test("a credential remembered for one service is not accepted by another on the same thread")
    func perService() throws {
        let a = try APIKeys.create(id: "a", principal: "partner-a", roles: ["predictor"], expires: nil)
        let other = try APIKeys.create(id: "o", principal: "other", roles: ["predictor"], expires: nil)
        let first = try AuthService(configPath: pki.writeConfig("{\"apiKeys\": [\(a.configEntry)]}"))
        let second = try AuthService(configPath: pki.writeConfig("{\"apiKeys\": [\(other.configEntry)]}"))
        #expect(call(first, key: a.key).principal?.name == "partner-a")
        #expect(call(first, key: a.key).principal?.name == "partner-a")  // from the memo
        #expect(call(second, key: a.key).principal == nil)
        #expect(call(second, key: other.key).principal?.name == "other")
        #expect(call(first, key: a.key).principal?.name == "partner-a")
    }

    @Test("a remembered key stops working when it expires")
    func expiry() throws {
        let k = try APIKeys.create(id: "k", principal: "p", roles: ["predictor"], expires: "2999-01-01T00:00:00Z")
        let s = try AuthService(configPath: pki.writeConfig("{\"apiKeys\": [\(k.configEntry)]}"))
        #expect(call(s, key: k.key).principal != nil)
        #expect(call(s, key: k.key).principal != nil)
        let after = SecurityConfig.parseTimestamp("2999-01-01T00:00:01Z") ?? 0
        guard case .denied(let d) = call(s, key: k.key, now: after) else {
            Issue.record("an expired key was answered from the memo")
            return
        }
        #expect(d.code == .unauthenticated && d.reason.contains("expired"))
    }

    @Test("a near miss of a remembered credential is verified, not matched", arguments: [0, 1, 20, 46])
    func nearMiss(_ position: Int) throws {
        let k = try APIKeys.create(id: "k", principal: "p", roles: ["predictor"], expires: nil)
        let s = try AuthService(configPath: pki.writeConfig("{\"apiKeys\": [\(k.configEntry)]}"))
        #expect(call(s, key: k.key).principal != nil)
        var bytes = Array(k.key.utf8)
        let i = min(position, bytes.count - 1)
        bytes[i] = bytes[i] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(call(s, key: String(decoding: bytes, as: UTF8.self)).principal == nil)
    }

    @Test("more credentials than the memo holds all keep working")
    func manyCredentials() throws {
        let keys = try (0..<9).map { try APIKeys.create(id: "k\($0)", principal: "p\($0)", roles: ["viewer"], expires: nil) }
        let s = try AuthService(
            configPath: pki.writeConfig("{\"apiKeys\": [\(keys.map(\.configEntry).joined(separator: ","))]}"))
        for round in 0..<3 {
            for (n, k) in keys.enumerated() {
                let d = s.authorize(AuthRequest(rpc: .getModelVersion, model: "m", apiKey: k.key))
                #expect(d.principal?.name == "p\(n)", "round \(round)")
            }
        }
    }
}
