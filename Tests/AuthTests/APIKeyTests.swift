import Foundation
import Synchronization
import Testing

@testable import Auth

@Suite("API keys")
struct APIKeyTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI.shared() }

    func config(_ entries: [APIKeys.Created], extra: String = "") -> String {
        "{\"apiKeys\": [\(entries.map(\.configEntry).joined(separator: ","))]\(extra)}"
    }

    func call(_ s: AuthService, _ key: String?, rpc: AuthRPC = .predict) -> AuthDecision {
        s.authorize(AuthRequest(rpc: rpc, model: "churn", apiKey: key, peer: "10.0.0.1:1"))
    }

    @Test("right key → its principal; wrong, truncated or empty key → UNAUTHENTICATED")
    func rightAndWrong() throws {
        let a = try APIKeys.create(id: "a-1", principal: "partner-a", roles: ["predictor"], expires: nil)
        let b = try APIKeys.create(id: "b-1", principal: "partner-b", roles: ["viewer"], expires: nil)
        #expect(a.key.hasPrefix("slk_") && a.key.count > 40)
        #expect(a.sha256Hex == APIKeys.sha256Hex(a.key))
        #expect(!a.configEntry.contains(a.key))
        let s = try AuthService(configPath: pki.writeConfig(config([a, b])))
        let p = try #require(call(s, a.key).principal)
        #expect(p.name == "partner-a" && p.method == .apiKey && p.credentialID == "a-1" && p.roles == ["predictor"])
        #expect(call(s, b.key, rpc: .getModelVersion).principal?.name == "partner-b")
        for bad in [String(a.key.dropLast()), a.key + "x", "", a.sha256Hex, String(repeating: "k", count: 4000)] {
            guard case .denied(let d) = call(s, bad) else {
                Issue.record("accepted \(bad)")
                continue
            }
            #expect(d.code == .unauthenticated)
            #expect(d.message == AuthDenial.unauthenticatedMessage)
        }
        // No credential at all.
        guard case .denied(let none) = call(s, nil) else { Issue.record("no credential accepted"); return }
        #expect(none.code == .unauthenticated && none.reason == "no credentials")
    }

    @Test("an expired key is refused; one expiring later works")
    func expiry() throws {
        let old = try APIKeys.create(id: "old", principal: "p", roles: ["predictor"], expires: "2020-01-01T00:00:00Z")
        let future = try APIKeys.create(
            id: "new", principal: "p", roles: ["predictor"], expires: "2999-01-01T00:00:00Z")
        let s = try AuthService(configPath: pki.writeConfig(config([old, future])))
        guard case .denied(let d) = call(s, old.key) else { Issue.record("expired key accepted"); return }
        #expect(d.code == .unauthenticated && d.reason.contains("expired"))
        #expect(call(s, future.key).principal?.credentialID == "new")
        #expect(throws: APIKeys.Failure.self) {
            try APIKeys.create(id: "x", principal: "p", roles: [], expires: "tomorrow")
        }
    }

    @Test("revocation takes effect on reload; a broken file keeps the old policy")
    func revokeByReload() throws {
        let a = try APIKeys.create(id: "a", principal: "partner-a", roles: ["predictor"], expires: nil)
        let b = try APIKeys.create(id: "b", principal: "partner-b", roles: ["predictor"], expires: nil)
        let name = "reload-\(UInt32.random(in: 0...UInt32.max)).json"
        let path = pki.writeConfig(config([a, b]), name: name)
        let s = try AuthService(configPath: path)
        #expect(call(s, a.key).principal != nil)
        _ = pki.writeConfig(config([b]), name: name)
        try s.reload()
        #expect(call(s, a.key).principal == nil)
        #expect(call(s, b.key).principal != nil)
        // A bad file: reload throws, b still works.
        _ = pki.writeConfig("{\"apiKeys\": [{\"id\": \"x\"}]}", name: name)
        #expect(throws: SecurityConfigError.self) { try s.reload() }
        #expect(call(s, b.key).principal != nil)
    }

    @Test("an API key's principal gets roles from bindings too")
    func bindingRoles() throws {
        let a = try APIKeys.create(id: "a", principal: "ops", roles: ["viewer"], expires: nil)
        let s = try AuthService(
            configPath: pki.writeConfig(
                config(
                    [a],
                    extra:
                        #", "bindings": [{"subject": "ops", "method": "api-key", "roles": ["deployer"]}, {"subject": "ops", "method": "jwt", "roles": ["admin"]}]"#
                )))
        #expect(call(s, a.key, rpc: .rollout).principal?.roles == ["deployer", "viewer"])
        #expect(call(s, a.key, rpc: .predict).principal == nil)
    }
}

@Suite("Configuration watching")
struct WatchTests {
    @Test("changing the configuration file reloads it; a broken edit is reported and the old policy stays")
    func watch() throws {
        let pki = try TestPKI.shared()
        let a = try APIKeys.create(id: "a", principal: "pa", roles: ["predictor"], expires: nil)
        let b = try APIKeys.create(id: "b", principal: "pb", roles: ["predictor"], expires: nil)
        let name = "watch-\(UInt32.random(in: 0...UInt32.max)).json"
        let path = pki.writeConfig("{\"apiKeys\": [\(a.configEntry)]}", name: name)
        let s = try AuthService(configPath: path)
        #expect(s.watchedFiles == [path])
        final class Events: Sendable { let list = Mutex<[Bool]>([]) }
        let events = Events()
        s.startWatching(interval: 0.05) { r in events.list.withLock { $0.append((try? r.get()) != nil) } }
        defer { s.shutdown() }
        func call(_ key: String) -> Bool {
            s.authorize(AuthRequest(rpc: .predict, model: "m", apiKey: key)).principal != nil
        }
        #expect(call(a.key) && !call(b.key))
        _ = pki.writeConfig("{\"apiKeys\": [\(b.configEntry)]}", name: name)
        let deadline = Date().addingTimeInterval(10)
        while events.list.withLock({ $0.isEmpty }) && Date() < deadline { usleep(10_000) }
        #expect(events.list.withLock { $0 } == [true])
        #expect(!call(a.key) && call(b.key))
        _ = pki.writeConfig("{\"apiKeys\": [", name: name)
        while events.list.withLock({ $0.count < 2 }) && Date() < deadline.addingTimeInterval(10) { usleep(10_000) }
        #expect(events.list.withLock { $0 } == [true, false])
        #expect(call(b.key))
    }
}
