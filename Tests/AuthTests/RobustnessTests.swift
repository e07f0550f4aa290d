import Foundation
import Testing

@testable import Auth
import TextFormats

/// Input a peer controls must never crash the verifier, and no modification of a valid token may be accepted.
@Suite("Robustness")
struct RobustnessTests {
    /// A small deterministic generator (SplitMix64) so failures reproduce.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    @Test("10,000 mutated tokens: no crash, and none but the original is accepted")
    func mutations() throws {
        let pki = try TestPKI.shared()
        let s = try AuthService(configPath: pki.writeConfig("{\(pki.jwtSection)}"))
        let token = try pki.mint(
            header: TestPKI.header(alg: "HS256", kid: "hs-1"),
            payload: TestPKI.claims(extra: "\"roles\":[\"predictor\"]"), signer: .hmac(pki.hmacSecret))
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \"{}\u{0}é".utf8)
        var rng = Rng(state: 42)
        var accepted = 0
        for _ in 0..<10_000 {
            var bytes = Array(token.utf8)
            for _ in 0..<(1 + rng.below(3)) {
                switch rng.below(4) {
                case 0: bytes[rng.below(bytes.count)] = alphabet[rng.below(alphabet.count)]
                case 1: bytes.remove(at: rng.below(bytes.count))
                case 2: bytes.insert(alphabet[rng.below(alphabet.count)], at: rng.below(bytes.count + 1))
                default: bytes = Array(bytes[..<rng.below(bytes.count + 1)])
                }
                if bytes.isEmpty { bytes = [UInt8(ascii: ".")] }
            }
            let mutated = String(decoding: bytes, as: UTF8.self)
            let d = s.authorize(AuthRequest(rpc: .predict, model: "churn", authorization: "Bearer " + mutated))
            if d.principal != nil {
                accepted += 1
                // Extra spaces after the scheme are allowed (RFC 7235: 1*SP); the token itself must be unchanged.
                #expect(String(mutated.drop(while: { $0 == " " })) == token, "accepted a modified token: \(mutated)")
            }
        }
        // Mutations that happen to reproduce the original are fine; anything else was flagged above.
        #expect(accepted < 10_000)
    }

    @Test("random bytes through the JSON parser and base64url decoder never crash")
    func randomInput() {
        var rng = Rng(state: 7)
        let pieces = Array("{}[]\",:0123456789.eE+-truefalsnul\\u\u{1}ab".utf8)
        for _ in 0..<20_000 {
            let n = rng.below(40)
            let bytes = (0..<n).map { _ in
                rng.below(4) == 0 ? UInt8(truncatingIfNeeded: rng.next()) : pieces[rng.below(pieces.count)]
            }
            _ = try? JSONParser.parse(bytes)
            _ = Base64URL.decode(String(decoding: bytes, as: UTF8.self))
        }
    }

    @Test("the token cache stays within its bound")
    func cacheBound() {
        let cache = PrincipalCache(capacity: 32)
        for k in 0..<1000 {
            cache.put("token-\(k)-\(k * 7919)", AuthService.anonymous, now: 0)
        }
        #expect(cache.count <= 32)
        #expect(cache.get("token-999-\(999 * 7919)", now: 0) === AuthService.anonymous)
    }
}
