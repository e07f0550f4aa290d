import Foundation
import Testing

@testable import Auth

/// Hot-path cost of authorize + audit enqueue. Runs only with SLUICE_AUTH_BENCH=1 (see bench/auth_hotpath.sh);
/// prints nanoseconds per call and asserts nothing about speed.
@Suite("Auth hot path benchmark", .enabled(if: ProcessInfo.processInfo.environment["SLUICE_AUTH_BENCH"] == "1"))
struct AuthHotPathBenchmark {
    static let iterations = 1_000_000

    func measure(_ label: String, threads: Int = 1, _ body: @escaping @Sendable () -> Void) {
        let per = Self.iterations / threads
        let start = DispatchTime.now().uptimeNanoseconds
        var cpuStart = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &cpuStart)
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<per { body() }
        }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start)
        var cpuEnd = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &cpuEnd)
        func us(_ t: timeval) -> Double { Double(t.tv_sec) * 1e6 + Double(t.tv_usec) }
        let cpu = (us(cpuEnd.ru_utime) - us(cpuStart.ru_utime) + us(cpuEnd.ru_stime) - us(cpuStart.ru_stime)) * 1000
        let n = Double(per * threads)
        print(
            String(
                format: "BENCH %-44@ threads=%d  wall %7.1f ns/call  cpu %7.1f ns/call", label as NSString, threads,
                wall / n, cpu / n))
    }

    @Test("authorize with a cached token, an API key, insecure mode; audit enqueue")
    func hotPath() throws {
        let pki = try TestPKI.shared()
        let auditPath = "\(pki.dir)/bench-audit.log"
        let key = try APIKeys.create(id: "k", principal: "bench", roles: ["predictor"], expires: nil)
        let s = try AuthService(
            configPath: pki.writeConfig(
                """
                {\(pki.jwtSection), "apiKeys": [\(key.configEntry)],
                 "bindings": [{"subject": "bench", "roles": [], "rateLimits": {"predict": {"requestsPerSecond": 1e12, "burst": 1e12}}}],
                 "audit": {"path": "\(auditPath)", "queueCapacity": 2000000}}
                """))
        let rs = try pki.mint(
            header: TestPKI.header(alg: "RS256", kid: "rsa-1"),
            payload: TestPKI.claims(sub: "bench", extra: "\"jti\":\"j1\",\"roles\":[\"predictor\"]"), signer: .rsa)
        let jwtReq = AuthRequest(rpc: .predict, model: "churn", authorization: "Bearer " + rs, peer: "127.0.0.1:5000")
        let keyReq = AuthRequest(rpc: .predict, model: "churn", apiKey: key.key, peer: "127.0.0.1:5000")
        print("BENCH token length \(rs.utf8.count) bytes")
        #expect(s.authorize(jwtReq).principal != nil)
        #expect(s.authorize(keyReq).principal != nil)

        measure("authorize, cached RS256 JWT + RBAC + rate limit") { _ = s.authorize(jwtReq) }
        measure("authorize, cached RS256 JWT + RBAC + rate limit", threads: 2) { _ = s.authorize(jwtReq) }
        measure("authorize, API key (SHA-256 + compare)") { _ = s.authorize(keyReq) }
        let audit = try #require(s.audit)
        measure("authorize + audit enqueue (JWT)") {
            let d = s.authorize(jwtReq)
            audit.record(
                time: 0, requestID: "r", decision: d, peer: jwtReq.peer, rpc: jwtReq.rpc, model: jwtReq.model,
                selector: "", version: 1, variant: "", grpcStatus: 0, latencyMicros: 10)
        }
        audit.flush()
        final class Sink: @unchecked Sendable {
            var entry = AuditBytes(capacity: 1024)
            var lines = AuditBytes(capacity: 1 << 20)
            var clock = AuditTimestampCache()
        }
        let sink = Sink()
        AuditEntry.append(
            to: &sink.entry, time: AuditRecord.now(), requestID: "req-0123456789",
            identity: try #require(s.authorize(jwtReq).principal).auditIdentity, peer: jwtReq.peer, rpc: "Predict",
            model: "churn", selector: "production", version: 7, variant: "canary", allowed: true, reason: "",
            grpcStatus: 0, latencyMicros: 412)
        measure("audit JSON formatting only (writer thread work)") {
            if sink.lines.count > (1 << 20) - 1024 { sink.lines.removeAll() }
            AuditEntryView(base: sink.entry.base).appendJSONLine(to: &sink.lines, clock: &sink.clock)
        }
        let insecure = AuthService.insecure()
        measure("authorize, --insecure-no-auth (reference)") { _ = insecure.authorize(jwtReq) }

        // Uncached verification cost per algorithm (a fresh policy each round would dominate; verify directly).
        let policy = try SecurityPolicy(
            config: SecurityConfig.load(path: pki.writeConfig("{\(pki.jwtSection)}")), rateLimits: RateLimiterRegistry()
        )
        let verifier = try #require(policy.verifier)
        for (alg, kid, signer) in [
            ("RS256", "rsa-1", TestPKI.Signer.rsa), ("ES256", "ec-1", .ec), ("EdDSA", "ed-1", .ed),
            ("HS256", "hs-1", .hmac(pki.hmacSecret)),
        ] {
            let t = try pki.mint(header: TestPKI.header(alg: alg, kid: kid), payload: TestPKI.claims(), signer: signer)
            let now = Date().timeIntervalSince1970
            let n = 2000
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<n { _ = verifier.verify(t[...], now: now) }
            let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n)
            print(String(format: "BENCH uncached verify %@: %.1f µs", alg, ns / 1000))
        }
        s.shutdown()
    }
}
