/// A log-bucketed latency histogram in nanoseconds: exact below 16 ns, then 16 buckets per power of two
/// (bucket width ≤ 1/16 of its lower bound, so a reported quantile is within ±3.2% of the true one).
struct LatencyHistogram: Sendable, Equatable {
    static let subBucketBits = 4
    static let subBuckets = 1 << subBucketBits
    /// Indices 0..<16 are exact; exponents 4...63 take 16 buckets each.
    static let bucketCount = subBuckets + (64 - subBucketBits) * subBuckets

    private(set) var counts: [UInt64]
    private(set) var total: UInt64
    /// Lowest and highest non-empty bucket (meaningful when `total > 0`), so quantiles scan only the occupied span.
    private(set) var lowest: Int
    private(set) var highest: Int

    init() {
        counts = [UInt64](repeating: 0, count: Self.bucketCount)
        total = 0
        lowest = Self.bucketCount
        highest = -1
    }

    @inline(__always)
    static func bucketIndex(_ ns: UInt64) -> Int {
        if ns < UInt64(subBuckets) { return Int(ns) }
        let exponent = 63 - ns.leadingZeroBitCount  // ≥ 4
        let sub = Int((ns >> UInt64(exponent - subBucketBits)) & UInt64(subBuckets - 1))
        return (exponent - subBucketBits + 1) * subBuckets + sub
    }

    /// The middle of bucket `index`, in nanoseconds.
    static func bucketMidpoint(_ index: Int) -> Double {
        if index < subBuckets { return Double(index) }
        let exponent = index / subBuckets + subBucketBits - 1
        let sub = index % subBuckets
        let width = Double(UInt64(1) << UInt64(exponent - subBucketBits))
        let lower = Double(subBuckets + sub) * width
        return lower + width / 2
    }

    @inline(__always)
    mutating func record(_ ns: UInt64) {
        let index = Self.bucketIndex(ns)
        counts[index] &+= 1
        total &+= 1
        if index < lowest { lowest = index }
        if index > highest { highest = index }
    }

    /// Adds every observation of `other`.
    mutating func merge(_ other: LatencyHistogram) {
        guard other.total > 0, other.lowest <= other.highest else { return }
        for index in other.lowest...other.highest where other.counts[index] > 0 {
            counts[index] &+= other.counts[index]
        }
        total &+= other.total
        lowest = min(lowest, other.lowest)
        highest = max(highest, other.highest)
    }

    mutating func reset() {
        if total > 0 {
            for i in lowest...highest { counts[i] = 0 }
        }
        total = 0
        lowest = Self.bucketCount
        highest = -1
    }

    /// The q-quantile (0 < q ≤ 1) in nanoseconds: the midpoint of the bucket holding the ⌈q·n⌉-th value; 0 if empty.
    func quantile(_ q: Double) -> Double {
        guard total > 0, lowest <= highest else { return 0 }
        let rank = min(total, max(1, UInt64((q * Double(total)).rounded(.up))))
        if q > 0.5 {
            // High quantiles: count down from the top, (total − rank) values lie above the answer.
            let above = total - rank
            var seen: UInt64 = 0
            var index = highest
            while index > lowest {
                seen &+= counts[index]
                if seen > above { return Self.bucketMidpoint(index) }
                index -= 1
            }
            return Self.bucketMidpoint(lowest)
        }
        var seen: UInt64 = 0
        for index in lowest...highest {
            seen &+= counts[index]
            if seen >= rank { return Self.bucketMidpoint(index) }
        }
        return Self.bucketMidpoint(highest)
    }

    /// Non-empty buckets as `[index, count]` pairs, for persistence.
    var sparse: [[UInt64]] {
        counts.enumerated().compactMap { $0.element > 0 ? [UInt64($0.offset), $0.element] : nil }
    }

    /// Rebuilds from ``sparse``; pairs with an index out of range are rejected.
    init(sparse: [[UInt64]]) throws(RolloutError) {
        self.init()
        for pair in sparse {
            guard pair.count == 2, pair[0] < UInt64(Self.bucketCount) else {
                throw RolloutError(.internalError, "latency histogram bucket \(pair) is not an [index, count] pair")
            }
            guard pair[1] > 0 else { continue }
            let index = Int(pair[0])
            counts[index] &+= pair[1]
            total &+= pair[1]
            lowest = min(lowest, index)
            highest = max(highest, index)
        }
    }
}

extension LatencyHistogram: Codable {
    /// Encoded as the sparse `[[index, count], …]` list of non-empty buckets.
    init(from decoder: any Decoder) throws {
        let pairs = try decoder.singleValueContainer().decode([[UInt64]].self)
        try self.init(sparse: pairs)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(sparse)
    }
}
