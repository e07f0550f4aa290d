import Foundation
import Synchronization
import Testing

@testable import Auth

@Suite("Rate limits")
struct RateLimitTests {
    func service(_ extraBindings: String = "") throws -> AuthService {
        let pki = try TestPKI.shared()
        var entries: [String] = []
        for p in ["hot", "cold", "free"] {
            let hash = APIKeys.sha256Hex("key-" + p)
            entries.append(#"{"id": "\#(p)", "sha256": "\#(hash)", "principal": "\#(p)", "roles": ["predictor"]}"#)
        }
        return try AuthService(
            configPath: pki.writeConfig(
                """
                {"apiKeys": [\(entries.joined(separator: ","))],
                 "bindings": [{"subject": "hot", "roles": [], "rateLimits": {"predict": {"requestsPerSecond": 1, "burst": 5}}},
                              {"subject": "cold", "roles": [], "rateLimits": {"*": {"requestsPerSecond": 1, "burst": 5}}}\(extraBindings)]}
                """))
    }

    func call(_ s: AuthService, _ p: String, _ rpc: AuthRPC = .predict) -> AuthDecision {
        s.authorize(AuthRequest(rpc: rpc, model: "churn", apiKey: "key-\(p)"))
    }

    @Test("a principal over its limit gets RESOURCE_EXHAUSTED with a retry delay; another is unaffected")
    func isolation() throws {
        let s = try service()
        for _ in 0..<5 { #expect(call(s, "hot").principal != nil) }
        guard case .denied(let d) = call(s, "hot") else { Issue.record("6th call in burst 5 admitted"); return }
        #expect(d.code == .rateLimited && d.code.grpcStatus == 8)
        let wait = try #require(d.retryAfterMs)
        #expect(wait > 0 && wait <= 1000)
        #expect(d.message.contains("retry after \(wait) ms"))
        // Other principals, and other classes of the same principal, keep their own buckets.
        for _ in 0..<5 { #expect(call(s, "cold").principal != nil) }
        for _ in 0..<50 { #expect(call(s, "free").principal != nil) }
        #expect(call(s, "hot", .getModelVersion).principal != nil)
    }

    @Test("limits hold across threads: exactly the burst is admitted")
    func concurrent() async throws {
        let s = try service()
        final class Counter: Sendable { let value = Atomic<Int>(0) }
        let admitted = Counter()
        await withTaskGroup(of: Void.self) { g in
            for _ in 0..<8 {
                g.addTask {
                    for _ in 0..<25 where call(s, "hot").principal != nil { admitted.value.add(1, ordering: .relaxed) }
                }
            }
        }
        // 200 calls in well under a second: the burst of 5, plus at most one refill token.
        let n = admitted.value.load(ordering: .relaxed)
        #expect(n >= 5 && n <= 6)
    }

    @Test("tokens refill at the configured rate")
    func refill() {
        let b = TokenBucket(limit: .init(requestsPerSecond: 10, burst: 2), nowNanos: 0)
        #expect(b.take(nowNanos: 0) == nil)
        #expect(b.take(nowNanos: 0) == nil)
        #expect(b.take(nowNanos: 0) == 100)
        #expect(b.take(nowNanos: 50_000_000) == 50)
        #expect(b.take(nowNanos: 100_000_000) == nil)
        #expect(b.take(nowNanos: 10_000_000_000) == nil)  // capped at burst
        #expect(b.take(nowNanos: 10_000_000_000) == nil)
        #expect(b.take(nowNanos: 10_000_000_000) != nil)
    }

    @Test("buckets survive a reload with the same limit")
    func reloadKeepsBuckets() throws {
        let pki = try TestPKI.shared()
        let name = "rl-\(UInt32.random(in: 0...UInt32.max)).json"
        let body =
            #"{"apiKeys": [{"id": "h", "sha256": "\#(APIKeys.sha256Hex("key-hot"))", "principal": "hot", "roles": ["predictor"]}], "defaultRateLimits": {"predict": {"requestsPerSecond": 1, "burst": 2}}}"#
        let s = try AuthService(configPath: pki.writeConfig(body, name: name))
        #expect(call(s, "hot").principal != nil)
        #expect(call(s, "hot").principal != nil)
        try s.reload()
        #expect(call(s, "hot").principal == nil)
    }
}
