@testable import Monitoring
import Foundation
import Testing

@Suite("ModelMonitor")
struct ModelMonitorTests {
    /// A profile of `income` (numeric, 0..<1000) and `plan` (basic 50 %, plus 30 %, pro 20 %).
    static func profile() -> ReferenceProfile {
        let incomes = (0..<1000).map { Double($0) }
        let plans = (0..<1000).map { $0 % 10 < 5 ? "basic" : $0 % 10 < 8 ? "plus" : "pro" }
        return ReferenceProfile(
            rows: 1000,
            features: [
                ProfileBuilder.numeric(name: "income", values: incomes),
                ProfileBuilder.categorical(name: "plan", values: plans),
            ],
            prediction: ProfileBuilder.prediction(
                kind: .binary, scores: incomes.map { $0 / 1000 }, classes: ["0", "1"],
                classIndices: incomes.map { $0 >= 700 ? 1 : 0 }, positiveClass: 1))
    }

    static func monitor(windowRows: Int = 1000) throws -> ModelMonitor {
        var settings = MonitorSettings()
        settings.windowRows = windowRows
        settings.minRows = 10
        return try #require(ModelMonitor(
            model: "churn", version: 1, profile: profile(),
            features: [
                .init(name: "income", categorical: false, slot: 0), .init(name: "plan", categorical: true, slot: 0),
                .init(name: "age", categorical: false, slot: 1),
            ],
            prediction: .init(kind: .binary, classes: ["0", "1"], positiveClass: 1), settings: settings, now: 0))
    }

    static func record(_ monitor: ModelMonitor, income: Float, plan: String, age: Float = 30) {
        let numeric: [Float] = [income, age]
        numeric.withUnsafeBufferPointer { buffer in
            monitor.record(
                numeric: buffer, stride: 2, strings: [[plan]], row: 0, score: Double(income) / 1000,
                classIndex: income >= 700 ? 1 : 0)
        }
    }

    @Test func profileBuilderUsesRightClosedQuantileBins() {
        let feature = ProfileBuilder.numeric(name: "x", values: (0..<100).map(Double.init) + [.nan])
        #expect(feature.missing == 1)
        #expect(feature.counts.reduce(0, +) == 100)
        #expect(Set(feature.psiEdges).isSubset(of: Set(feature.edges)))
        #expect(ProfileBuilder.bin(of: feature.edges[0], edges: feature.edges) == 0)
        #expect(ProfileBuilder.bin(of: 1e9, edges: feature.edges) == feature.edges.count)
        #expect(throws: Never.self) { try ReferenceProfile.decode(Self.profile().encoded()) }
    }

    @Test func cellTableFindsTheSameBinsAsBinarySearch() {
        // Skewed edges (exponential), a single edge, tiny and huge spans; values on, between and beyond the edges.
        let edgeSets: [[Double]] = [
            (0..<49).map { exp(Double($0) / 4) }, [5], [1, 1 + 1e-12, 2], (0..<30).map { Double($0) * 1e300 / 30 },
            [-3, -1, 0, 0.5, 7],
        ]
        var state: UInt64 = 42
        for edges in edgeSets {
            let channel = ModelMonitor.NumericChannel(slot: 0, offset: 0, edges: edges)
            defer { channel.release() }
            var values = edges + edges.map { $0.nextUp } + edges.map { $0.nextDown } + [-.infinity, .infinity, 0, -1e308, 1e308]
            for _ in 0..<2000 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let unit = Double(state >> 11) / Double(1 << 53)
                values.append((edges.first ?? 0) - 1 + unit * ((edges.last ?? 0) - (edges.first ?? 0) + 2))
            }
            for value in values {
                #expect(channel.bin(value) == ProfileBuilder.bin(of: value, edges: edges), "value \(value) edges \(edges.count)")
            }
            #expect(channel.bin(.nan) == edges.count + 1)
        }
    }

    @Test func sameDistributionStaysOK() throws {
        let monitor = try Self.monitor()
        for index in 0..<1000 {
            Self.record(monitor, income: Float(index), plan: index % 10 < 5 ? "basic" : index % 10 < 8 ? "plus" : "pro")
        }
        let report = monitor.refresh(now: 1, wallMillis: 0)
        #expect(report.windowRows == 1000)
        #expect(report.verdict == .ok)
        #expect(report.features.map(\.name) == ["income", "plan"])
        #expect(report.notes.contains { $0.contains("\"age\"") })
        for feature in report.features { #expect((feature.psi ?? 1) < 1e-9) }
        #expect((report.prediction?.positiveRateShift).map { abs($0) < 1e-9 } == true)
    }

    @Test func shiftedFeatureDriftsAlone() throws {
        let monitor = try Self.monitor()
        for index in 0..<1000 {
            Self.record(
                monitor, income: Float(index) * 1.5, plan: index % 10 < 5 ? "basic" : index % 10 < 8 ? "plus" : "pro")
        }
        let report = monitor.refresh(now: 1, wallMillis: 0)
        let income = try #require(report.features.first { $0.name == "income" })
        let plan = try #require(report.features.first { $0.name == "plan" })
        #expect(income.verdict == .drift)
        #expect(plan.verdict == .ok)
        #expect((income.ksStatistic ?? 0) > 0.3)
        #expect((report.prediction?.positiveRateShift ?? 0) > 0.2)
    }

    @Test func unseenAndMissingCategoriesAreCounted() throws {
        let monitor = try Self.monitor()
        for index in 0..<100 { Self.record(monitor, income: Float(index * 10), plan: index < 50 ? "gold" : index < 60 ? "" : "basic") }
        let report = monitor.refresh(now: 1, wallMillis: 0)
        let plan = try #require(report.features.first { $0.name == "plan" })
        #expect(abs(plan.missingShare - 0.1) < 1e-12)
        #expect(abs(plan.unseenShare - 50.0 / 90.0) < 1e-12)
        #expect(plan.verdict == .drift)
        #expect((plan.chiSquarePValue ?? 1) < 1e-6)
    }

    @Test func windowKeepsTheNewestRequests() throws {
        let monitor = try Self.monitor(windowRows: 100)
        var now: UInt64 = 0
        // 300 requests in steps of 10 with the timer rotating in between: the window keeps at most 100.
        for step in 0..<30 {
            for index in 0..<10 { Self.record(monitor, income: Float(step * 10 + index), plan: "basic") }
            now += 1_000_000
            monitor.rotate(now: now)
        }
        let report = monitor.refresh(now: now, wallMillis: 0)
        #expect(report.windowRows <= 100 && report.windowRows >= 90)
        // Requests older than the time limit leave the window.
        let later = monitor.refresh(now: now + 4_000_000_000_000, wallMillis: 0)
        #expect(later.windowRows < report.windowRows)
    }
}
