import Testing

@testable import Auth

@Suite("Strict base64url")
struct Base64URLTests {
    @Test("base64url is strict and round-trips")
    func base64url() {
        for n in 0..<20 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 * 53 + 7) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.decode("AQAB") == [1, 0, 1])
        #expect(Base64URL.decode("AQ==") == nil)  // padding
        #expect(Base64URL.decode("A+/B") == nil)  // standard alphabet
        #expect(Base64URL.decode("A") == nil)  // impossible length
        #expect(Base64URL.decode("AR") == nil)  // non-zero trailing bits (canonical form is "AQ")
        #expect(Base64URL.decode("AQ") == [1])
    }
}
