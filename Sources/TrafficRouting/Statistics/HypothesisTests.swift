import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// The significance tests and sample-size formulas of an A/B rollout. All p-values are two-sided.
public enum HypothesisTests {
    /// Result of a test: the statistic and its two-sided p-value.
    public struct Result: Sendable, Equatable {
        public var statistic: Double
        public var pValue: Double
        /// Welch–Satterthwaite degrees of freedom (t-test only; `nil` for the z-test).
        public var degreesOfFreedom: Double?
    }

    /// Pooled two-proportion z-test of H0: p1 = p2.
    ///
    /// p̂ = (x1 + x2)/(n1 + n2), z = (x2/n2 − x1/n1) / √(p̂(1 − p̂)(1/n1 + 1/n2)), p = 2·(1 − Φ(|z|)).
    /// Returns `nil` when an arm is empty or the pooled rate is 0 or 1 (no variance, nothing to test).
    public static func twoProportionZTest(
        successes1 x1: Double, trials1 n1: Double, successes2 x2: Double, trials2 n2: Double
    ) -> Result? {
        guard n1 > 0, n2 > 0 else { return nil }
        let pooled = (x1 + x2) / (n1 + n2)
        let variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
        guard variance > 0 else { return nil }
        let z = (x2 / n2 - x1 / n1) / variance.squareRoot()
        return Result(statistic: z, pValue: 2 * StandardNormal.survival(abs(z)), degreesOfFreedom: nil)
    }

    /// Welch's unequal-variance t-test of H0: μ1 = μ2, from per-arm means, sample variances (n − 1 denominator)
    /// and counts. t = (m2 − m1)/√(v1/n1 + v2/n2), ν = (v1/n1 + v2/n2)² / ((v1/n1)²/(n1 − 1) + (v2/n2)²/(n2 − 1)).
    /// Returns `nil` with fewer than two observations in an arm or zero variance in both.
    public static func welchTTest(
        mean1: Double, variance1: Double, count1 n1: Double,
        mean2: Double, variance2: Double, count2 n2: Double
    ) -> Result? {
        guard n1 >= 2, n2 >= 2 else { return nil }
        let s1 = variance1 / n1
        let s2 = variance2 / n2
        let se2 = s1 + s2
        guard se2 > 0 else { return nil }
        let t = (mean2 - mean1) / se2.squareRoot()
        let nu = se2 * se2 / (s1 * s1 / (n1 - 1) + s2 * s2 / (n2 - 1))
        return Result(statistic: t, pValue: StudentT.twoSidedTail(t, degreesOfFreedom: nu), degreesOfFreedom: nu)
    }

    /// Per-arm sample size to detect an absolute change `effect` of a proportion from `baselineRate`,
    /// two-sided at `alpha`, with `power` (normal approximation, no continuity correction):
    ///
    /// p2 = p1 + δ (or p1 − δ when that would exceed 1), p̄ = (p1 + p2)/2,
    /// n = (z_{1−α/2}·√(2p̄(1 − p̄)) + z_{power}·√(p1(1 − p1) + p2(1 − p2)))² / δ².
    ///
    /// Unrounded; the status reports ⌈n⌉. Returns `nil` for δ ≤ 0 or rates outside [0, 1].
    public static func sampleSizeForProportions(
        baselineRate p1: Double, effect delta: Double, alpha: Double, power: Double = 0.8
    ) -> Double? {
        guard delta > 0, p1 >= 0, p1 <= 1, alpha > 0, alpha < 1, power > 0, power < 1 else { return nil }
        var p2 = p1 + delta
        if p2 > 1 { p2 = p1 - delta }
        guard p2 >= 0 else { return nil }
        let pBar = (p1 + p2) / 2
        let zAlpha = StandardNormal.quantile(1 - alpha / 2)
        let zBeta = StandardNormal.quantile(power)
        let root = zAlpha * (2 * pBar * (1 - pBar)).squareRoot() + zBeta * (p1 * (1 - p1) + p2 * (1 - p2)).squareRoot()
        return root * root / (delta * delta)
    }

    /// Per-arm sample size to detect an absolute change `effect` of a mean whose per-observation variance is
    /// `variance`, two-sided at `alpha`, with `power`: n = 2σ²(z_{1−α/2} + z_{power})² / δ².
    public static func sampleSizeForMeans(variance: Double, effect delta: Double, alpha: Double, power: Double = 0.8)
        -> Double?
    {
        guard delta > 0, variance >= 0, alpha > 0, alpha < 1, power > 0, power < 1 else { return nil }
        let z = StandardNormal.quantile(1 - alpha / 2) + StandardNormal.quantile(power)
        return 2 * variance * z * z / (delta * delta)
    }
}
