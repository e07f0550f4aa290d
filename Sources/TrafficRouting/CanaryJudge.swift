import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// The automatic canary decision: guardrails first (roll back at once on a breach), then the step's minimums
/// (advance, or promote after the last step).
enum CanaryJudge {
    /// What the judge wants done; each case carries the human-readable reason recorded in the rollout's history.
    enum Decision: Equatable {
        /// A guardrail was breached: send all traffic back to the baseline.
        case rollback(String)
        /// The current step's minimums are met: move to the next step's weights.
        case advance(String)
        /// The last step's minimums are met: make the candidate the Production version.
        case promote(String)
    }

    /// Candidate requests in the current step before guardrails are judged.
    static func minimumSample(guardrails: Guardrails, step: CanaryStep) -> UInt64 {
        let floor = max(guardrails.minSampleRequests, 1)
        return step.minRequests > 0 ? min(floor, step.minRequests) : floor
    }

    /// Candidate requests before the p99 guardrails are judged: at least ``minimumLatencySample``, since below 100
    /// observations the p99 is the maximum and a single slow call would decide.
    static let minimumLatencySample: UInt64 = 100

    /// The decision for `data` at `now` (ms since the Unix epoch), or nil to keep waiting. Always nil for A/B
    /// tests (no candidate) and once every step is done. Pure: the caller applies the decision under the lock.
    static func decide(_ data: RolloutData, now: Int64) -> Decision? {
        guard let candidateIndex = data.candidateIndex, data.stepIndex < data.steps.count else { return nil }
        let step = data.steps[data.stepIndex]
        let g = data.guardrails
        let candidate = data.stepStats[candidateIndex]
        let minSample = minimumSample(guardrails: g, step: step)
        guard candidate.requests >= minSample else { return nil }
        let n = "over \(grouped(candidate.requests)) requests"

        if g.maxErrorRate > 0, candidate.errorRate > g.maxErrorRate {
            return .rollback(
                "rolled back: candidate error rate \(pct(candidate.errorRate)) > limit \(pct(g.maxErrorRate)) \(n)")
        }
        // The baseline reference: this step's baseline statistics, or the whole rollout's when the step has too
        // few baseline requests (e.g. at 100%).
        let baseline: VariantAccumulator? = {
            let stepBase = data.stepStats[data.baselineIndex]
            if stepBase.requests >= minSample { return stepBase }
            let overallBase = data.overallStats[data.baselineIndex]
            return overallBase.requests >= minSample ? overallBase : nil
        }()
        if g.maxErrorRateIncrease > 0, let base = baseline,
            candidate.errorRate - base.errorRate > g.maxErrorRateIncrease
        {
            return .rollback(
                "rolled back: candidate error rate \(pct(candidate.errorRate)) exceeds baseline "
                    + "\(pct(base.errorRate)) by \(pct(candidate.errorRate - base.errorRate)) > limit "
                    + "\(pct(g.maxErrorRateIncrease)) \(n)")
        }
        let latencyGuarded = g.maxP99Ms > 0 || g.maxP99Ratio > 0
        let latencySample = max(minSample, minimumLatencySample)
        let latencyJudged = candidate.requests >= latencySample
        let latencyBaseline: VariantAccumulator? = {
            let stepBase = data.stepStats[data.baselineIndex]
            if stepBase.requests >= latencySample { return stepBase }
            let overallBase = data.overallStats[data.baselineIndex]
            return overallBase.requests >= latencySample ? overallBase : nil
        }()
        let candidateP99 = candidate.p99Ms
        if latencyJudged, g.maxP99Ms > 0, candidateP99 > g.maxP99Ms {
            return .rollback("rolled back: candidate p99 latency \(ms(candidateP99)) > limit \(ms(g.maxP99Ms)) \(n)")
        }
        if latencyJudged, g.maxP99Ratio > 0, let base = latencyBaseline, base.p99Ms > 0,
            candidateP99 / base.p99Ms > g.maxP99Ratio
        {
            let ratio = candidateP99 / base.p99Ms
            return .rollback(
                "rolled back: candidate p99 latency \(ms(candidateP99)) is \(fixed(ratio, 2))× baseline "
                    + "\(ms(base.p99Ms)) > limit \(fixed(g.maxP99Ratio, 2))× \(n)")
        }

        let elapsed = now &- data.stepStartedUnixMs
        guard candidate.requests >= step.minRequests, !latencyGuarded || latencyJudged, elapsed >= 0,
            UInt64(elapsed) >= step.minDurationMs
        else {
            return nil
        }
        let held =
            "step \(data.stepIndex + 1) at \(fixed(step.percent, 1))% held \(grouped(candidate.requests)) "
            + "candidate requests for \(fixed(Double(elapsed) / 1000, 1)) s within guardrails"
        if data.stepIndex + 1 >= data.steps.count {
            return .promote("promoted: \(held)")
        }
        let next = data.steps[data.stepIndex + 1]
        return .advance("advanced to step \(data.stepIndex + 2) (\(fixed(next.percent, 1))%): \(held)")
    }

    /// 0.041 → "4.1%".
    static func pct(_ rate: Double) -> String { fixed(rate * 100, 1) + "%" }
    /// Milliseconds with enough digits to tell sub-millisecond latencies apart: 250 ms, 12.5 ms, 1.25 ms, 0.081 ms.
    static func ms(_ value: Double) -> String {
        let digits = value >= 100 ? 0 : value >= 10 ? 1 : value >= 1 ? 2 : 3
        return fixed(value, digits) + " ms"
    }

    /// `value` rounded to `digits` decimals, as `%.<digits>f` prints it (no Foundation formatting needed).
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<max(0, digits) { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = (scaled / scale).rounded(.down)
        var text = String(Int64(whole))
        if digits > 0 {
            var digitsText = String(Int64(scaled) - Int64(whole) * Int64(scale))
            while digitsText.count < digits { digitsText = "0" + digitsText }
            text += "." + digitsText
        }
        return (value < 0 && scaled != 0 ? "-" : "") + text
    }

    /// 2000 → "2,000".
    static func grouped(_ value: UInt64) -> String {
        let digits = Array(String(value))
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return out
    }
}
