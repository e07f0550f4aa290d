import Testing

@testable import TrafficRouting

// Reference values from scipy 1.17.1 (see the Python in each comment; run with /tmp/venvprobe/bin/python).
@Suite("Hypothesis tests")
struct HypothesisTestsTests {
    // p=(600+700)/10000; z=(0.14-0.12)/sqrt(p*(1-p)*(2/5000)); 2*stats.norm.sf(abs(z))
    @Test("two-proportion z-test") func zTest() throws {
        let r = try #require(
            HypothesisTests.twoProportionZTest(successes1: 600, trials1: 5000, successes2: 700, trials2: 5000))
        #expect(abs(r.statistic - 2.9735051672502655) < 1e-12)
        #expect(abs(r.pValue - 0.002944194493609887) < 1e-12)
    }

    @Test("z-test without variance or data is not a test") func zTestDegenerate() {
        #expect(HypothesisTests.twoProportionZTest(successes1: 0, trials1: 0, successes2: 1, trials2: 2) == nil)
        #expect(HypothesisTests.twoProportionZTest(successes1: 0, trials1: 10, successes2: 0, trials2: 10) == nil)
    }

    // r = stats.ttest_ind_from_stats(m2, sqrt(v2), n2, m1, sqrt(v1), n1, equal_var=False)
    // with m1=0.5, v1=0.04, n1=400, m2=0.53, v2=0.09, n2=300 → t, p below;
    // df = (s1+s2)**2/(s1**2/399+s2**2/299), s1=v1/n1, s2=v2/n2.
    @Test("Welch t-test") func welch() throws {
        let r = try #require(
            HypothesisTests.welchTTest(
                mean1: 0.5, variance1: 0.04, count1: 400, mean2: 0.53, variance2: 0.09, count2: 300))
        #expect(abs(r.statistic - 1.5000000000000013) < 1e-9)
        #expect(abs(r.pValue - 0.13425750847602316) < 1e-9)
        #expect(abs((r.degreesOfFreedom ?? 0) - 490.6982005141389) < 1e-6)
    }

    // n = (ppf(0.975)*sqrt(2*pb*(1-pb)) + ppf(0.8)*sqrt(p1*(1-p1)+p2*(1-p2)))**2 / d**2
    @Test("sample size for proportions") func sampleSizeProportions() throws {
        let n1 = try #require(HypothesisTests.sampleSizeForProportions(baselineRate: 0.12, effect: 0.02, alpha: 0.05))
        #expect(abs(n1 - 4437.362370579443) < 1e-6)
        let n2 = try #require(HypothesisTests.sampleSizeForProportions(baselineRate: 0.12, effect: 0.01, alpha: 0.01))
        #expect(abs(n2 - 25546.30471849761) < 1e-6)
        #expect(HypothesisTests.sampleSizeForProportions(baselineRate: 0.5, effect: 0, alpha: 0.05) == nil)
    }

    // 2*0.03*(stats.norm.ppf(0.975)+stats.norm.ppf(0.8))**2/0.01**2
    @Test("sample size for means") func sampleSizeMeans() throws {
        let n = try #require(HypothesisTests.sampleSizeForMeans(variance: 0.03, effect: 0.01, alpha: 0.05))
        #expect(abs(n - 4709.327840609452) < 1e-6)
    }
}
