import Testing

@testable import InferenceService

@Suite("RequestID")
struct RequestIDTests {
    /// Generates one id as a String through the public-to-the-module entry point.
    private func generated() -> String {
        RequestID.with(UnsafeRawBufferPointer(start: nil, count: 0)) { String(decoding: $0, as: UTF8.self) }
    }

    @Test func generatedIDsAreFifteenLowerHexDigits() {
        for _ in 0..<32 {
            let id = generated()
            #expect(id.utf8.count == 15)
            #expect(id.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }, "\(id)")
        }
    }

    @Test func generatedIDsAreUniqueAndShareThePrefix() {
        let ids = (0..<1000).map { _ in generated() }
        #expect(Set(ids).count == ids.count)
        // The first 7 digits are the per-process prefix; the last 8 are the counter.
        #expect(Set(ids.map { $0.prefix(7) }).count == 1)
        let first = UInt64(ids[0].suffix(8), radix: 16)!
        let second = UInt64(ids[1].suffix(8), radix: 16)!
        // Other tests may generate ids concurrently, so only the order is certain.
        #expect(second != first)
    }

    @Test func suppliedIDIsUsedAndCappedAt128Bytes() {
        let supplied = Array("client-request-42".utf8)
        let echoed = supplied.withUnsafeBytes { raw in
            RequestID.with(raw) { String(decoding: $0, as: UTF8.self) }
        }
        #expect(echoed == "client-request-42")

        let long = [UInt8](repeating: UInt8(ascii: "a"), count: 300)
        let count = long.withUnsafeBytes { raw in RequestID.with(raw) { $0.count } }
        #expect(count == 128)
    }

    @Test func generateWritesIntoCallerBuffer() {
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { RequestID.generate(into: $0) }
        #expect(count == 15)
        #expect(buffer[15] == 0)
        #expect(buffer[0..<15].allSatisfy { $0 != 0 })
    }
}
