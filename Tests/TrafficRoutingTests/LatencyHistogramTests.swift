import Testing

@testable import TrafficRouting

@Suite("Latency histogram")
struct LatencyHistogramTests {
    /// The exact q-quantile of sorted values by the same rank rule (⌈q·n⌉-th smallest).
    func exact(_ sorted: [UInt64], _ q: Double) -> Double {
        Double(sorted[max(1, Int((q * Double(sorted.count)).rounded(.up))) - 1])
    }

    @Test("quantiles are within the bucket precision of the exact ones, scanning up or down")
    func quantiles() throws {
        var histogram = LatencyHistogram()
        var values: [UInt64] = []
        var x: UInt64 = 0x1234_5678
        for _ in 0..<10_000 {
            x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let v = 50_000 + (x >> 33) % 20_000_000  // 50 µs … 20 ms
            values.append(v)
            histogram.record(v)
        }
        values.sort()
        for q in [0.01, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999, 1.0] {
            let got = histogram.quantile(q)
            let want = exact(values, q)
            #expect(abs(got - want) / want <= 1.0 / 32 + 1e-9, "q=\(q): \(got) vs \(want)")
        }
    }

    @Test("one outlier among 100 values is not the p99") func outlier() {
        var histogram = LatencyHistogram()
        for _ in 0..<100 { histogram.record(1_000_000) }
        histogram.record(900_000_000)
        #expect(abs(histogram.quantile(0.99) - 1_000_000) / 1_000_000 < 0.04)
        #expect(histogram.quantile(1.0) > 800_000_000)
    }

    @Test("reset, empty and persistence round trip") func resetAndSparse() throws {
        var histogram = LatencyHistogram()
        #expect(histogram.quantile(0.5) == 0)
        for v: UInt64 in [3, 17, 1000, 1_000_000, 5_000_000_000] { histogram.record(v) }
        let copy = try LatencyHistogram(sparse: histogram.sparse)
        #expect(copy == histogram)
        #expect(histogram.quantile(0.2) == 3)
        histogram.reset()
        #expect(histogram.total == 0 && histogram.quantile(0.99) == 0)
        #expect(histogram == LatencyHistogram())
        #expect(throws: RolloutError.self) { try LatencyHistogram(sparse: [[5000, 1]]) }
    }
}
