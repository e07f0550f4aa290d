import Testing

@testable import TrafficRouting

@Suite("Routing key hash")
struct RoutingKeyHashTests {
    // Made with the Python reference implementation in docs/routing.md.
    @Test(
        "matches the documented reference implementation",
        arguments: [
            ("0123456789abcdef0123456789abcdef", "customer-42", UInt64(3_207_909_726_349_127_260), 1739),
            ("r1", "a", UInt64(12_626_475_213_759_390_179), 6844),
            ("3f2a", "clé-é", UInt64(18_171_033_474_511_510_942), 9850),
        ])
    func vectors(id: String, key: String, hash: UInt64, bp: Int) {
        let prefix = RoutingKeyHash.prefix(rolloutID: id)
        #expect(RoutingKeyHash.hash(prefix: prefix, key: key) == hash)
        #expect(RoutingKeyHash.basisPoints(prefix: prefix, key: key) == bp)
        let bytes = Array(key.utf8)
        let fromBytes = bytes.withUnsafeBytes { RoutingKeyHash.basisPoints(prefix: prefix, keyBytes: $0) }
        #expect(fromBytes == bp)
    }

    @Test("the empty key of the reference") func emptyKey() {
        let prefix = RoutingKeyHash.prefix(rolloutID: "r1")
        #expect(RoutingKeyHash.hash(prefix: prefix, key: "") == 16_242_204_090_395_971_407)
    }

    @Test("basis points cover [0, 10000) uniformly") func uniform() {
        let prefix = RoutingKeyHash.prefix(rolloutID: "uniformity")
        var buckets = [Int](repeating: 0, count: 10)
        for i in 0..<100_000 {
            let bp = RoutingKeyHash.basisPoints(prefix: prefix, key: "user-\(i)")
            #expect(bp >= 0 && bp < 10_000)
            buckets[bp / 1000] += 1
        }
        // Each decile: binomial(100000, 0.1), 99.9% two-sided bounds [9689, 10313] (scipy binom.ppf).
        for count in buckets { #expect(count >= 9689 && count <= 10313, "decile count \(count)") }
    }
}
