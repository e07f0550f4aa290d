import Foundation
import Monitoring
import Testing

/// Reference values come from scipy 1.17 (`kstwobign.sf`, `chi2.sf`, `chisquare`).
@Suite("DriftStatistics")
struct DriftStatisticsTests {
    @Test func kolmogorovSurvivalMatchesScipy() {
        let cases: [(Double, Double)] = [
            (0.5, 0.9639452436648751), (1.0, 0.26999967167735456), (1.5, 0.022217962616525127),
            (2.5, 7.453306344157342e-06),
        ]
        for (x, expected) in cases {
            #expect(abs(DriftStatistics.kolmogorovSurvival(x) - expected) <= 1e-10 * max(1, expected) + 1e-14)
        }
        #expect(DriftStatistics.kolmogorovSurvival(0) == 1)
    }

    @Test func chiSquareSurvivalMatchesScipy() {
        let cases: [(Double, Int, Double)] = [
            (3.0, 2, 0.22313016014842982), (10.0, 3, 0.01856613546304325), (50.0, 7, 1.4444852779215397e-08),
            (0.5, 1, 0.47950012218695337),
        ]
        for (x, dof, expected) in cases {
            let value = DriftStatistics.chiSquareSurvival(x, degreesOfFreedom: dof)
            #expect(abs(value - expected) <= 1e-9 * expected)
        }
    }

    @Test func chiSquareMatchesScipyChisquare() throws {
        let result = try #require(DriftStatistics.chiSquare(observed: [30, 50, 20], expectedShares: [0.25, 0.5, 0.25]))
        #expect(abs(result.statistic - 2.0) < 1e-12)
        #expect(abs(result.pValue - 0.36787944117144245) < 1e-12)
        #expect(result.degreesOfFreedom == 2)
        #expect(DriftStatistics.chiSquare(observed: [0, 0], expectedShares: [0.5, 0.5]) == nil)
    }

    @Test func psiFloorsEmptyBins() throws {
        // Identical distributions: 0. One empty live bin: its share is floored at 1e-4.
        #expect(try #require(DriftStatistics.psi(live: [10, 20, 30], reference: [1, 2, 3])) == 0)
        let psi = try #require(DriftStatistics.psi(live: [0, 50, 50], reference: [20, 40, 40]))
        let expected = (1e-4 - 0.2) * log(1e-4 / 0.2) + 2 * (0.5 - 0.4) * log(0.5 / 0.4)
        #expect(abs(psi - expected) < 1e-12)
        #expect(DriftStatistics.psi(live: [0, 0], reference: [1, 1]) == nil)
    }

    @Test func binnedKSIsTheLargestCDFGap() throws {
        let result = try #require(DriftStatistics.ks(live: [0, 50, 50], reference: [50, 50, 0]))
        #expect(abs(result.statistic - 0.5) < 1e-12)
        let expectedP = DriftStatistics.kolmogorovSurvival((100.0 * 100.0 / 200.0).squareRoot() * 0.5)
        #expect(result.pValue == expectedP)
    }

    @Test func verdictBands() {
        #expect(DriftVerdict.of(0.05, warn: 0.1, drift: 0.25) == .ok)
        #expect(DriftVerdict.of(0.1, warn: 0.1, drift: 0.25) == .warn)
        #expect(DriftVerdict.of(0.3, warn: 0.1, drift: 0.25) == .drift)
        #expect(DriftVerdict.of(nil, warn: 0.1, drift: 0.25) == .ok)
    }
}
