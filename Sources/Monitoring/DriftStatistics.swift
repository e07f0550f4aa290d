#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The drift statistics, computed off the serving path from binned counts.
///
/// - PSI: `sum over bins of (a - e) * ln(a / e)` with `a`, `e` the live and reference shares, each floored at
///   ``psiFloor`` (`max(share, 1e-4)`), so that an empty bin contributes a large but finite term.
/// - KS: the two-sample Kolmogorov–Smirnov statistic evaluated at the fine bin edges (the largest gap between
///   the two binned empirical CDFs); its p-value is the asymptotic Kolmogorov distribution at
///   `sqrt(n*m/(n+m)) * D` (`scipy.stats.kstwobign.sf`). Against `scipy.stats.ks_2samp` on the raw samples the
///   statistic is never larger and at most the largest single-bin share (of either sample) smaller; it is exact
///   when every distinct value is an edge (small integer features).
/// - Chi-square: Pearson's goodness of fit of live category counts against the reference frequencies
///   (`scipy.stats.chisquare(observed, expected)` with `expected = n * reference share`), `k - 1` degrees of
///   freedom, p-value from the regularized upper incomplete gamma function.
public enum DriftStatistics {
    /// The floor of a bin share in PSI.
    public static let psiFloor = 1e-4

    /// PSI of `live` counts against `reference` counts over the same bins; nil when either side is empty.
    public static func psi(live: [Double], reference: [Double]) -> Double? {
        let liveTotal = live.reduce(0, +)
        let referenceTotal = reference.reduce(0, +)
        guard liveTotal > 0, referenceTotal > 0, live.count == reference.count else { return nil }
        var sum = 0.0
        for index in live.indices {
            let a = max(live[index] / liveTotal, psiFloor)
            let e = max(reference[index] / referenceTotal, psiFloor)
            sum += (a - e) * log(a / e)
        }
        return sum
    }

    /// The binned two-sample KS statistic and its asymptotic p-value; nil when either side is empty.
    public static func ks(live: [Double], reference: [Double]) -> (statistic: Double, pValue: Double)? {
        let n = live.reduce(0, +)
        let m = reference.reduce(0, +)
        guard n > 0, m > 0, live.count == reference.count else { return nil }
        var liveCDF = 0.0
        var referenceCDF = 0.0
        var statistic = 0.0
        for index in live.indices {
            liveCDF += live[index]
            referenceCDF += reference[index]
            statistic = max(statistic, abs(liveCDF / n - referenceCDF / m))
        }
        let effective = n * m / (n + m)
        return (statistic, kolmogorovSurvival(effective.squareRoot() * statistic))
    }

    /// `P(K > x)` for the Kolmogorov distribution (`scipy.stats.kstwobign.sf`).
    public static func kolmogorovSurvival(_ x: Double) -> Double {
        guard x > 0 else { return 1 }
        if x < 1.18 {
            // Jacobi-theta form, converges fast for small x: 1 - sqrt(2π)/x · Σ exp(-(2k-1)²π²/(8x²)).
            let factor = -Double.pi * Double.pi / (8 * x * x)
            var sum = 0.0
            for k in 1...8 {
                let odd = Double(2 * k - 1)
                sum += exp(factor * odd * odd)
            }
            return min(1, max(0, 1 - (2 * Double.pi).squareRoot() / x * sum))
        }
        var sum = 0.0
        for k in 1...100 {
            let term = exp(-2 * Double(k * k) * x * x)
            sum += (k % 2 == 1 ? term : -term)
            if term < 1e-17 { break }
        }
        return min(1, max(0, 2 * sum))
    }

    /// Pearson's chi-square of `observed` counts against `expectedShares` (summing to 1), with its p-value and
    /// degrees of freedom; nil when nothing was observed or fewer than two categories exist.
    public static func chiSquare(observed: [Double], expectedShares: [Double])
        -> (statistic: Double, pValue: Double, degreesOfFreedom: Int)?
    {
        let total = observed.reduce(0, +)
        guard total > 0, observed.count == expectedShares.count, observed.count >= 2 else { return nil }
        var statistic = 0.0
        for index in observed.indices {
            let expected = total * expectedShares[index]
            guard expected > 0 else { continue }
            let difference = observed[index] - expected
            statistic += difference * difference / expected
        }
        let dof = observed.count - 1
        return (statistic, chiSquareSurvival(statistic, degreesOfFreedom: dof), dof)
    }

    /// `P(X > x)` for a chi-square distribution with `dof` degrees of freedom (`scipy.stats.chi2.sf`).
    public static func chiSquareSurvival(_ x: Double, degreesOfFreedom dof: Int) -> Double {
        guard x > 0, dof > 0 else { return 1 }
        return regularizedGammaQ(Double(dof) / 2, x / 2)
    }

    /// The regularized upper incomplete gamma function Q(a, x): a series below `a + 1`, Lentz's continued
    /// fraction above.
    static func regularizedGammaQ(_ a: Double, _ x: Double) -> Double {
        guard x > 0 else { return 1 }
        let logPrefix = -x + a * log(x) - lgamma(a)
        if x < a + 1 {
            var term = 1 / a
            var sum = term
            var denominator = a
            for _ in 0..<1000 {
                denominator += 1
                term *= x / denominator
                sum += term
                if abs(term) < abs(sum) * 1e-16 { break }
            }
            return max(0, 1 - sum * exp(logPrefix))
        }
        let tiny = 1e-300
        var b = x + 1 - a
        var c = 1 / tiny
        var d = 1 / b
        var h = d
        for i in 1..<1000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b
            if abs(d) < tiny { d = tiny }
            c = b + an / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return min(1, exp(logPrefix) * h)
    }
}
