import CryptoPrimitives
import Testing

/// The digest, MAC and comparison wrappers against published test vectors.
@Suite("Crypto primitives")
struct CryptoTests {
    /// Lowercase hex of `bytes`.
    func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    @Test("SHA-256 of the FIPS 180-2 vectors, as bytes and as hex")
    func sha256() {
        #expect(Crypto.sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Crypto.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(Crypto.sha256("abc")) == Crypto.sha256Hex(Array("abc".utf8)))
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(Crypto.sha256Hex(long) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("HMAC-SHA256 of RFC 4231 test case 2")
    func hmac() {
        let mac = Crypto.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("constant-time comparison and random bytes")
    func compareAndRandom() {
        #expect(Crypto.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!Crypto.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!Crypto.constantTimeEqual([1, 2, 3], [1, 2]))
        let a = Crypto.randomBytes(32), b = Crypto.randomBytes(32)
        #expect(a?.count == 32 && b?.count == 32 && a != b)
    }
}
