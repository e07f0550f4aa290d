import Foundation
import Testing

@testable import Auth

/// The hostile-token battery: every class the issue lists, each with exactly the expected outcome, checked
/// through `AuthService.authorize` (so the status code is the one the service will send).
@Suite("JWT verification")
struct JWTVerifierTests {
    let pki: TestPKI
    let service: AuthService
    typealias T = TestPKI

    init() throws {
        pki = try TestPKI.shared()
        let path = pki.writeConfig("{\(pki.jwtSection)}")
        service = try AuthService(configPath: path)
    }

    func decide(_ token: String, rpc: AuthRPC = .predict, model: String = "churn") -> AuthDecision {
        service.authorize(AuthRequest(rpc: rpc, model: model, authorization: "Bearer " + token, peer: "test"))
    }

    func expectAllowed(_ token: String, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let d = decide(token)
        guard case .allowed(let p) = d else {
            Issue.record("expected allowed, got \(d) \(comment.map { "\($0)" } ?? "")", sourceLocation: sourceLocation)
            return
        }
        #expect(p.method == .jwt, sourceLocation: sourceLocation)
    }

    /// Expects UNAUTHENTICATED with the generic hint and an internal reason containing `reason`.
    func expectRejected(_ token: String, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let d = decide(token)
        guard case .denied(let denial) = d else {
            Issue.record("expected denial (\(reason)), got allowed", sourceLocation: sourceLocation)
            return
        }
        #expect(denial.code == .unauthenticated, sourceLocation: sourceLocation)
        #expect(denial.code.grpcStatus == 16, sourceLocation: sourceLocation)
        #expect(denial.message == AuthDenial.unauthenticatedMessage, sourceLocation: sourceLocation)
        #expect(denial.message.contains("www-authenticate"), sourceLocation: sourceLocation)
        #expect(denial.reason.contains(reason), "reason was: \(denial.reason)", sourceLocation: sourceLocation)
    }

    let roles = "\"roles\":[\"predictor\"]"

    @Test("valid tokens for every algorithm reach the model")
    func validTokens() throws {
        expectAllowed(
            try pki.mint(header: T.header(alg: "RS256", kid: "rsa-1"), payload: T.claims(extra: roles), signer: .rsa))
        expectAllowed(
            try pki.mint(header: T.header(alg: "RS256", kid: "rsa-jwks"), payload: T.claims(extra: roles), signer: .rsa)
        )
        expectAllowed(
            try pki.mint(header: T.header(alg: "ES256", kid: "ec-1"), payload: T.claims(extra: roles), signer: .ec))
        expectAllowed(
            try pki.mint(header: T.header(alg: "EdDSA", kid: "ed-1"), payload: T.claims(extra: roles), signer: .ed))
        expectAllowed(
            try pki.mint(
                header: T.header(alg: "HS256", kid: "hs-1"), payload: T.claims(extra: roles),
                signer: .hmac(pki.hmacSecret)))
        expectAllowed(
            try pki.mint(
                header: T.header(alg: "HS256", kid: "hs-jwks"), payload: T.claims(extra: roles),
                signer: .hmac(pki.hmacSecret)))
        // aud as a list containing a configured audience; scope as the role source.
        expectAllowed(
            try pki.mint(
                header: T.header(alg: "HS256", kid: "hs-1"),
                payload: T.claims(aud: "[\"other\",\"sluice-internal\"]", extra: "\"scope\":\"openid predictor\""),
                signer: .hmac(pki.hmacSecret)))
    }

    @Test("the principal carries sub, jti and roles from verified claims")
    func principalFromClaims() throws {
        let t = try pki.mint(
            header: T.header(alg: "ES256", kid: "ec-1"),
            payload: T.claims(sub: "svc-a", extra: "\"jti\":\"tok-77\",\"roles\":[\"viewer\",\"not-a-role\"]"),
            signer: .ec)
        let d = decide(t, rpc: .getModelVersion)
        let p = try #require(d.principal)
        #expect(p.name == "svc-a")
        #expect(p.credentialID == "tok-77")
        #expect(p.roles == ["viewer"])
        // viewer may not predict: a valid credential without permission is PERMISSION_DENIED.
        guard case .denied(let denial) = decide(t, rpc: .predict, model: "churn") else {
            Issue.record("viewer predicted")
            return
        }
        #expect(denial.code == .permissionDenied)
        #expect(denial.message.contains("Predict") && denial.message.contains("churn"))
    }

    @Test("alg none, in any spelling, is refused")
    func algNone() throws {
        for alg in ["none", "None", "NONE"] {
            expectRejected(
                try pki.mint(
                    header: T.header(alg: alg, kid: "hs-1"), payload: T.claims(extra: roles), signer: .unsigned),
                "alg none")
        }
        // none without kid
        expectRejected(
            try pki.mint(header: #"{"alg":"none"}"#, payload: T.claims(extra: roles), signer: .unsigned), "alg none")
    }

    @Test("algorithm confusion: HS256 signed with the RSA public key, and other mismatches")
    func algorithmMismatch() throws {
        let rsaPub = Array(try String(contentsOfFile: "\(pki.dir)/rsa.pub", encoding: .utf8).utf8)
        expectRejected(
            try pki.mint(
                header: T.header(alg: "HS256", kid: "rsa-1"), payload: T.claims(extra: roles), signer: .hmac(rsaPub)),
            "does not match key rsa-1")
        expectRejected(
            try pki.mint(header: T.header(alg: "RS256", kid: "ec-1"), payload: T.claims(extra: roles), signer: .rsa),
            "does not match key ec-1")
        expectRejected(
            try pki.mint(header: T.header(alg: "ES384", kid: "ec-1"), payload: T.claims(extra: roles), signer: .ec),
            "does not match")
        expectRejected(
            try pki.mint(header: T.header(alg: "ES256", kid: "ed-1"), payload: T.claims(extra: roles), signer: .ec),
            "does not match key ed-1")
        // Right alg name, wrong key's signature.
        expectRejected(
            try pki.mint(
                header: T.header(alg: "RS256", kid: "rsa-1"), payload: T.claims(extra: roles),
                signer: .raw([UInt8](repeating: 7, count: 256))),
            "bad signature")
    }

    @Test("unknown or missing kid never falls back to a default key")
    func unknownKid() throws {
        // A validly signed token naming a kid we do not have.
        expectRejected(
            try pki.mint(header: T.header(alg: "RS256", kid: "rsa-2"), payload: T.claims(extra: roles), signer: .rsa),
            "unknown kid")
        expectRejected(
            try pki.mint(
                header: T.header(alg: "HS256", kid: nil), payload: T.claims(extra: roles), signer: .hmac(pki.hmacSecret)
            ), "without kid")
        expectRejected(
            try pki.mint(
                header: T.header(alg: "HS256", kid: ""), payload: T.claims(extra: roles), signer: .hmac(pki.hmacSecret)),
            "unknown kid")
    }

    @Test("jku, x5u, embedded jwk, x5c and crit headers are refused even with a valid signature")
    func forbiddenHeaders() throws {
        for extra in [
            #""jku":"https://evil.test/jwks.json""#, #""x5u":"https://evil.test/cert.pem""#,
            #""jwk":{"kty":"oct","k":"AAAA"}"#, #""x5c":["MIIB"]"#, #""crit":["exp"]"#,
        ] {
            let name = String(extra.dropFirst().prefix(while: { $0 != "\"" }))
            expectRejected(
                try pki.mint(
                    header: T.header(alg: "HS256", kid: "hs-1", extra: extra), payload: T.claims(extra: roles),
                    signer: .hmac(pki.hmacSecret)),
                "forbidden header parameter \(name)")
        }
    }

    @Test("tokens over 8 KiB are refused before any work")
    func oversize() throws {
        let pad = String(repeating: "x", count: 6200)
        let big = try pki.mint(
            header: T.header(alg: "HS256", kid: "hs-1"), payload: T.claims(extra: roles + ",\"pad\":\"\(pad)\""),
            signer: .hmac(pki.hmacSecret))
        #expect(big.utf8.count > 8192)
        expectRejected(big, "over 8192 bytes")
        // Just under the limit is fine.
        let fits = try pki.mint(
            header: T.header(alg: "HS256", kid: "hs-1"),
            payload: T.claims(extra: roles + ",\"pad\":\"\(String(pad.prefix(5000)))\""), signer: .hmac(pki.hmacSecret))
        #expect(fits.utf8.count < 8192)
        expectAllowed(fits)
    }

    @Test("malformed base64url, JSON and structure")
    func malformed() throws {
        let good = try pki.mint(
            header: T.header(alg: "HS256", kid: "hs-1"), payload: T.claims(extra: roles), signer: .hmac(pki.hmacSecret))
        let parts = good.split(separator: ".").map(String.init)
        expectRejected(parts[0] + "=." + parts[1] + "." + parts[2], "malformed base64url")  // padding
        expectRejected(parts[0] + "." + parts[1] + "+/." + parts[2], "malformed base64url")  // standard alphabet
        expectRejected(parts[0] + "." + parts[1] + "." + parts[2] + "=", "malformed base64url")
        expectRejected(parts[0] + "." + parts[1], "not a compact JWS")
        expectRejected(good + ".extra", "not a compact JWS")
        expectRejected("not-a-token", "not a compact JWS")
        expectRejected("", "not a compact JWS")
        // Validly signed garbage JSON.
        let h = T.header(alg: "HS256", kid: "hs-1")
        expectRejected(
            try pki.mint(header: h, payload: "{\"sub\":", signer: .hmac(pki.hmacSecret)), "payload: invalid JSON")
        expectRejected(
            try pki.mint(header: h, payload: "[1,2]", signer: .hmac(pki.hmacSecret)), "payload is not a JSON object")
        expectRejected(
            try pki.mint(header: "{\"alg\":\"HS256\",", payload: T.claims(), signer: .hmac(pki.hmacSecret)),
            "header: invalid JSON")
        // Duplicate members: two parsers could read different values.
        expectRejected(
            try pki.mint(
                header: #"{"alg":"HS256","kid":"hs-1","kid":"rsa-1"}"#, payload: T.claims(extra: roles),
                signer: .hmac(pki.hmacSecret)),
            "duplicate member")
        expectRejected(
            try pki.mint(
                header: h, payload: T.claims(sub: "alice", extra: "\"sub\":\"admin\""), signer: .hmac(pki.hmacSecret)),
            "duplicate member")
        // Wrong scheme or bare token.
        let d = service.authorize(AuthRequest(rpc: .predict, model: "churn", authorization: "Basic " + good))
        #expect(d.principal == nil)
        let bare = service.authorize(AuthRequest(rpc: .predict, model: "churn", authorization: good))
        #expect(bare.principal == nil)
        // Lower-case scheme is accepted (RFC 7235: case-insensitive).
        #expect(
            service.authorize(AuthRequest(rpc: .predict, model: "churn", authorization: "bearer " + good)).principal
                != nil)
    }

    @Test("exp and nbf must be numbers; tampering breaks the signature")
    func claimTypes() throws {
        let h = T.header(alg: "HS256", kid: "hs-1")
        let now = Int(Date().timeIntervalSince1970)
        let k = TestPKI.Signer.hmac(pki.hmacSecret)
        expectRejected(
            try pki.mint(header: h, payload: T.claims(exp: "\"\(now + 600)\"", extra: roles), signer: k),
            "exp is not a number")
        expectRejected(
            try pki.mint(header: h, payload: T.claims(exp: "true", extra: roles), signer: k), "exp is not a number")
        expectRejected(
            try pki.mint(header: h, payload: T.claims(nbf: "\"\(now)\"", extra: roles), signer: k),
            "nbf is not a number")
        expectRejected(
            try pki.mint(header: h, payload: #"{"sub":"a","iss":"https://issuer.test","aud":"sluice"}"#, signer: k),
            "no exp")
        expectRejected(
            try pki.mint(header: h, payload: T.claims(iss: "https://evil.test", extra: roles), signer: k), "iss")
        expectRejected(try pki.mint(header: h, payload: T.claims(aud: "\"other\"", extra: roles), signer: k), "aud")
        expectRejected(try pki.mint(header: h, payload: T.claims(aud: "[\"other\"]", extra: roles), signer: k), "aud")
        expectRejected(try pki.mint(header: h, payload: T.claims(sub: "", extra: roles), signer: k), "no sub")
        // Change the payload after signing (roles → admin).
        let t = try pki.mint(header: h, payload: T.claims(extra: roles), signer: k)
        let parts = t.split(separator: ".").map(String.init)
        let forged = parts[0] + "." + T.b64(T.claims(extra: "\"roles\":[\"admin\"]")) + "." + parts[2]
        expectRejected(forged, "bad signature")
    }

    @Test("exp and nbf honour the 30 s leeway on both sides of its edge")
    func leeway() throws {
        let h = T.header(alg: "HS256", kid: "hs-1")
        let k = TestPKI.Signer.hmac(pki.hmacSecret)
        let now = Int(Date().timeIntervalSince1970)
        expectAllowed(
            try pki.mint(header: h, payload: T.claims(exp: String(now - 20), extra: roles), signer: k),
            "expired 20 s ago, inside leeway")
        expectRejected(
            try pki.mint(header: h, payload: T.claims(exp: String(now - 40), extra: roles), signer: k), "expired")
        expectRejected(
            try pki.mint(header: h, payload: T.claims(exp: String(now - 3600), extra: roles), signer: k), "expired")
        expectAllowed(
            try pki.mint(header: h, payload: T.claims(nbf: String(now + 20), extra: roles), signer: k),
            "nbf 20 s ahead, inside leeway")
        expectRejected(
            try pki.mint(header: h, payload: T.claims(nbf: String(now + 40), extra: roles), signer: k), "not yet valid")
    }

    @Test("a verified token is cached by its exact string and re-checked after exp")
    func cache() throws {
        let t = try pki.mint(
            header: T.header(alg: "RS256", kid: "rsa-1"), payload: T.claims(extra: roles), signer: .rsa)
        let a = try #require(decide(t).principal)
        let b = try #require(decide(t).principal)
        #expect(a === b)
        // An expired cached entry is not served: exp 29 s ago is valid now (leeway 30 s)...
        let now = Int(Date().timeIntervalSince1970)
        let soon = try pki.mint(
            header: T.header(alg: "HS256", kid: "hs-1"), payload: T.claims(exp: String(now - 29), extra: roles),
            signer: .hmac(pki.hmacSecret))
        let p = try #require(decide(soon).principal)
        #expect(p.validUntil == Double(now - 29) + 30)
        // ...and the cache refuses it once `now` passes validUntil.
        let policy = try SecurityPolicy(
            config: SecurityConfig.load(path: pki.writeConfig("{\(pki.jwtSection)}")), rateLimits: RateLimiterRegistry()
        )
        #expect(policy.tokens.get("x", now: 0) == nil)
        policy.tokens.put("Bearer " + soon, p, now: Double(now))
        #expect(policy.tokens.get("Bearer " + soon, now: Double(now)) === p)
        #expect(policy.tokens.get("Bearer " + soon, now: Double(now + 2)) == nil)
    }

    @Test("key loading refuses weak or mismatched keys")
    func keyLoading() throws {
        let dir = pki.dir
        func load(_ jwt: String) -> String? {
            let path = pki.writeConfig("{\"jwt\": {\"issuer\": \"i\", \"audience\": \"a\", \(jwt)}}")
            do {
                _ = try AuthService(configPath: path)
                return nil
            } catch { return error.description }
        }
        #expect(
            load(#""keys": [{"kid": "weak", "alg": "RS256", "file": "rsa1024.pub"}]"#)?.contains("at least 2048")
                == true)
        #expect(
            load(#""keys": [{"kid": "k", "alg": "ES256", "file": "rsa.pub"}]"#)?.contains("ES256 needs an EC P-256 key")
                == true)
        #expect(load(#""keys": [{"kid": "k", "alg": "EdDSA", "file": "ec.pub"}]"#)?.contains("Ed25519") == true)
        _ = FileManager.default.createFile(atPath: "\(dir)/short.key", contents: Data(repeating: 1, count: 31))
        #expect(load(#""keys": [{"kid": "k", "alg": "HS256", "file": "short.key"}]"#)?.contains("at least 32") == true)
        #expect(load(#""keys": [{"kid": "k", "alg": "none", "file": "rsa.pub"}]"#)?.contains("not one of") == true)
        #expect(
            load(#""keys": [{"kid": "k", "alg": "RS256", "file": "missing.pub"}]"#)?.contains("cannot read") == true)
        #expect(
            load(
                #""keys": [{"kid": "k", "alg": "RS256", "file": "rsa.pub"}, {"kid": "k", "alg": "RS256", "file": "rsa.pub"}]"#
            )?.contains("duplicate key id") == true)
        _ = FileManager.default.createFile(
            atPath: "\(dir)/nokid.json", contents: Data(#"{"keys":[{"kty":"oct","alg":"HS256","k":"AAAA"}]}"#.utf8))
        #expect(load(#""jwksFile": "nokid.json""#)?.contains("missing \"kid\"") == true)
        _ = FileManager.default.createFile(
            atPath: "\(dir)/noalg.json",
            contents: Data(#"{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}"#.utf8))
        #expect(load(#""jwksFile": "noalg.json""#)?.contains("missing \"alg\"") == true)
        #expect(load("\"leewaySeconds\": 30")?.contains("needs \"jwksFile\" or \"keys\"") == true)
        // An EC point that is not on P-256.
        let offCurve = Base64URL.encode([UInt8](repeating: 1, count: 32))
        _ = FileManager.default.createFile(
            atPath: "\(dir)/offcurve.json",
            contents: Data(
                #"{"keys":[{"kty":"EC","kid":"e","alg":"ES256","crv":"P-256","x":"\#(offCurve)","y":"\#(offCurve)"}]}"#
                    .utf8))
        #expect(load(#""jwksFile": "offcurve.json""#)?.contains("invalid EC point") == true)
    }
}
