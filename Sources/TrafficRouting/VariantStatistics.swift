/// What happened to one routed request, reported by the caller after the model answered (or failed).
public struct Outcome: Sendable {
    /// Whether the call succeeded. Failures that are the variant's fault (the model rejects the input, times out,
    /// fails) should count as errors; the caller decides.
    public var ok: Bool
    /// Time spent serving the call, in nanoseconds.
    public var latencyNs: UInt64
    /// The largest class score, for classifiers.
    public var confidence: Double?
    /// Whether the predicted label is the positive class (`nil` when not applicable).
    public var positive: Bool?
    /// A score for `meanScore` A/B tests (e.g. the positive-class probability).
    public var score: Double?

    public init(ok: Bool, latencyNs: UInt64, confidence: Double? = nil, positive: Bool? = nil, score: Double? = nil) {
        self.ok = ok
        self.latencyNs = latencyNs
        self.confidence = confidence
        self.positive = positive
        self.score = score
    }
}

/// Running mean and variance (Welford), mergeable and stable.
struct RunningMoments: Codable, Sendable, Equatable {
    var count: UInt64 = 0
    var mean: Double = 0
    /// Sum of squared deviations from the mean.
    var m2: Double = 0

    @inline(__always)
    mutating func add(_ x: Double) {
        count &+= 1
        let delta = x - mean
        mean += delta / Double(count)
        m2 += delta * (x - mean)
    }

    /// Adds another replica's moments (Chan et al.'s parallel update), as if its values had been added here.
    mutating func merge(_ other: RunningMoments) {
        guard other.count > 0 else { return }
        guard count > 0 else {
            self = other
            return
        }
        let total = count &+ other.count
        let delta = other.mean - mean
        let n = Double(count)
        let m = Double(other.count)
        let t = Double(total)
        mean += delta * m / t
        m2 += other.m2 + delta * delta * n * m / t
        count = total
    }

    /// Sample variance (n − 1 denominator); 0 below two observations.
    var variance: Double { count > 1 ? m2 / Double(count - 1) : 0 }
}

/// Everything recorded for one variant over one window (a step or the whole rollout).
struct VariantAccumulator: Codable, Sendable, Equatable {
    var requests: UInt64 = 0
    var errors: UInt64 = 0
    var latency = LatencyHistogram()
    /// Latency in milliseconds, for the latency A/B test.
    var latencyMs = RunningMoments()
    var confidence = RunningMoments()
    var score = RunningMoments()
    var positives: UInt64 = 0
    /// Successful calls that reported `positive`.
    var positiveObserved: UInt64 = 0
    /// Shadow comparisons and agreements.
    var shadowCompared: UInt64 = 0
    var shadowAgreed: UInt64 = 0

    @inline(__always)
    mutating func record(_ outcome: Outcome) {
        requests &+= 1
        latency.record(outcome.latencyNs)
        latencyMs.add(Double(outcome.latencyNs) / 1e6)
        guard outcome.ok else {
            errors &+= 1
            return
        }
        if let c = outcome.confidence { confidence.add(c) }
        if let s = outcome.score { score.add(s) }
        if let p = outcome.positive {
            positiveObserved &+= 1
            if p { positives &+= 1 }
        }
    }

    /// Adds another replica's statistics of the same variant and window.
    mutating func merge(_ other: VariantAccumulator) {
        requests &+= other.requests
        errors &+= other.errors
        latency.merge(other.latency)
        latencyMs.merge(other.latencyMs)
        confidence.merge(other.confidence)
        score.merge(other.score)
        positives &+= other.positives
        positiveObserved &+= other.positiveObserved
        shadowCompared &+= other.shadowCompared
        shadowAgreed &+= other.shadowAgreed
    }

    mutating func recordShadow(agreed: Bool) {
        shadowCompared &+= 1
        if agreed { shadowAgreed &+= 1 }
    }

    var errorRate: Double { requests > 0 ? Double(errors) / Double(requests) : 0 }
    var positiveRate: Double { positiveObserved > 0 ? Double(positives) / Double(positiveObserved) : 0 }
    var p99Ms: Double { latency.quantile(0.99) / 1e6 }

    var summary: VariantStats {
        VariantStats(
            requests: requests, errors: errors, errorRate: errorRate,
            p50Ms: latency.quantile(0.50) / 1e6, p95Ms: latency.quantile(0.95) / 1e6, p99Ms: p99Ms,
            meanConfidence: confidence.mean, positiveRate: positiveRate, meanScore: score.mean)
    }
}

/// Statistics of one variant over a window, as reported in the status (`VariantStats` in the proto).
public struct VariantStats: Sendable, Hashable {
    public var requests: UInt64
    public var errors: UInt64
    /// errors / requests (0 without requests).
    public var errorRate: Double
    public var p50Ms: Double
    public var p95Ms: Double
    public var p99Ms: Double
    /// Mean of the reported confidences of successful calls.
    public var meanConfidence: Double
    /// Positive labels / successful calls that reported one.
    public var positiveRate: Double
    /// Mean of the reported scores of successful calls.
    public var meanScore: Double
}
