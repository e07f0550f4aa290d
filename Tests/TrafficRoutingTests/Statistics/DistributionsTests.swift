import Testing

@testable import TrafficRouting

// Reference values from scipy 1.17.1, made with:
//   /tmp/venvprobe/bin/python -c 'from scipy import stats, special; print(repr(stats.norm.cdf(x)), ...)'
// (stats.norm.cdf / stats.norm.sf / stats.norm.ppf / stats.t.cdf / 2*stats.t.sf(|t|, df) / special.betainc).
@Suite("Distributions")
struct DistributionsTests {
    /// |a − b| ≤ tolerance·max(1, |b|)… but relative for tiny tails.
    func close(_ a: Double, _ b: Double, relative: Double = 1e-10) -> Bool {
        abs(a - b) <= relative * abs(b) || abs(a - b) < 1e-300
    }

    @Test(
        "normal CDF and survival match scipy",
        arguments: [
            (-8.0, 6.22096057427174e-16, 0.9999999999999993),
            (-3.5, 0.00023262907903552502, 0.9997673709209645),
            (-1.0, 0.15865525393145707, 0.8413447460685429),
            (0.0, 0.5, 0.5),
            (0.5, 0.6914624612740131, 0.3085375387259869),
            (1.959963984540054, 0.975, 0.025),
            (4.0, 0.9999683287581669, 3.167124183311986e-05),
            (10.0, 1.0, 7.61985302416047e-24),
        ])
    func normal(x: Double, cdf: Double, sf: Double) {
        #expect(close(StandardNormal.cdf(x), cdf), "Φ(\(x)) = \(StandardNormal.cdf(x)), scipy \(cdf)")
        #expect(close(StandardNormal.survival(x), sf), "1-Φ(\(x)) = \(StandardNormal.survival(x)), scipy \(sf)")
    }

    @Test(
        "normal quantile matches scipy",
        arguments: [
            (1e-10, -6.361340902404056), (0.001, -3.090232306167813), (0.025, -1.9599639845400545),
            (0.2, -0.8416212335729142), (0.5, 0.0), (0.8, 0.8416212335729143), (0.975, 1.959963984540054),
            (0.999, 3.090232306167813), (0.9999999999, 6.361340889697422),
        ])
    func quantile(p: Double, expected: Double) {
        let q = StandardNormal.quantile(p)
        #expect(abs(q - expected) <= 1e-12 * max(1, abs(expected)), "Φ⁻¹(\(p)) = \(q), scipy \(expected)")
    }

    @Test("quantile edge cases") func quantileEdges() {
        #expect(StandardNormal.quantile(0) == -.infinity)
        #expect(StandardNormal.quantile(1) == .infinity)
        #expect(StandardNormal.quantile(1.5).isNaN)
        #expect(StandardNormal.quantile(-0.1).isNaN)
    }

    @Test(
        "Student t CDF and two-sided tail match scipy",
        arguments: [
            (0.5, 3.0, 0.6742760175759245, 0.651447964848151),
            (-2.1, 7.5, 0.035618535729039044, 0.07123707145807809),
            (2.0, 30.0, 0.9726874775185085, 0.054625044962983094),
            (4.5, 12.3, 0.9996580731137714, 0.0006838537724571781),
            (1.0, 1.0, 0.75, 0.5000000000000001),
            (10.0, 200.0, 1.0, 2.3774831444207646e-19),
            (0.01, 1000.0, 0.5039883590339064, 0.9920232819321873),
        ])
    func studentT(t: Double, df: Double, cdf: Double, twoSided: Double) {
        #expect(close(StudentT.cdf(t, degreesOfFreedom: df), cdf, relative: 1e-10))
        let tail = StudentT.twoSidedTail(t, degreesOfFreedom: df)
        #expect(close(tail, twoSided, relative: 1e-9), "tail(\(t), \(df)) = \(tail), scipy \(twoSided)")
    }

    @Test(
        "regularized incomplete beta matches scipy",
        arguments: [
            (0.3, 2.0, 5.0, 0.5798250000000003), (0.9, 0.5, 0.5, 0.7951672353008665),
            (0.01, 10.0, 0.5, 1.770034965528571e-21), (0.7, 50.0, 30.0, 0.9207207761763279),
        ])
    func incompleteBeta(x: Double, a: Double, b: Double, expected: Double) {
        let value = SpecialFunctions.regularizedIncompleteBeta(x: x, complement: 1 - x, a: a, b: b)
        #expect(close(value, expected, relative: 1e-10), "I_\(x)(\(a), \(b)) = \(value), scipy \(expected)")
    }
}
