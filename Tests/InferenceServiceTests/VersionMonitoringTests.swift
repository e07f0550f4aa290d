import Foundation
import GRPCCore
@testable import InferenceService
import ModelRegistry
import Monitoring
import ServerMetrics
import SluiceProto
import Testing

@Suite("VersionMonitoring")
struct VersionMonitoringTests {
    /// A profile of features a (numeric 0..<100), plan (basic/pro) and a binary prediction.
    static func profile() -> ReferenceProfile {
        let values = (0..<100).map(Double.init)
        return ReferenceProfile(
            rows: 100,
            features: [
                ProfileBuilder.numeric(name: "a", values: values),
                ProfileBuilder.categorical(name: "plan", values: values.map { $0 < 50 ? "basic" : "pro" }),
            ],
            prediction: ProfileBuilder.prediction(
                kind: .binary, scores: values.map { $0 > 0 ? 0.8 : 0.3 }, classes: ["0", "1"],
                classIndices: values.map { $0 > 0 ? 1 : 0 }, positiveClass: 1))
    }

    /// `fakeServable`'s model (label 1 when a + b > 0) with monitoring from `profile`.
    static func servable(batchStride: Int = 1, confidence: Histogram? = nil) -> ServableModel {
        let base = fakeServable()
        var settings = MonitorSettings()
        settings.minRows = 10
        let setup = VersionMonitoring.Setup(
            model: "churn", version: 1, profile: profile(), note: nil, settings: settings, batchStride: batchStride,
            confidence: confidence)
        let monitoring = VersionMonitoring(
            setup, features: base.features, labels: base.classLabels, isRegressor: false, now: 0)
        return ServableModel(
            features: base.features, classLabels: base.classLabels, isRegressor: false, signature: SignatureInfo(),
            monitoring: monitoring, run: base.run)
    }

    @Test func predictCallsAreRecordedPerVersion() throws {
        let root = ScratchDirectory.make("monitoring")
        let source = LocalDirectorySource(root: root)
        _ = try source.register(
            model: "churn", bytes: Array("fake".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        let confidence = Histogram(bounds: [500, 1000], unitScale: 1000)
        let model = Self.servable(confidence: confidence)
        let registry = ModelRegistry<ServableModel>(source: source) { _, _, _ in model }
        registry.scanNow()
        let api = InferenceAPI(registry: registry, metrics: ServiceMetrics())
        for index in 0..<20 {
            let (outcome, _) = call(api, "Predict", predictRequest(
                features: [("a", Double(index * 5)), ("b", 1.0), ("plan", index < 10 ? "basic" : "gold")]))
            guard case .ok = outcome else {
                Issue.record("expected OK, got \(outcome)")
                return
            }
        }
        let monitor = try #require(model.monitoring?.monitor)
        let report = monitor.refresh(now: 1, wallMillis: 0)
        #expect(report.windowRows == 20)
        let plan = try #require(report.features.first { $0.name == "plan" })
        #expect(abs(plan.unseenShare - 0.5) < 1e-12)
        #expect(report.notes.contains { $0.contains("\"b\" is not in the profile") })
        #expect(report.prediction?.classShares == [0, 1])
        #expect(confidence.count == 20)
        // GetModelVersion's view of the same report.
        let info = try #require(api.monitoringInfo(model))
        #expect(info.profiled && info.windowRequests == 20 && info.features.count == 2)
    }

    @Test func batchRowsAreSampledByStride() throws {
        let model = Self.servable(batchStride: 4)
        let scratch = PredictionScratch()
        scratch.prepare(rows: 100, numericCount: 2, stringCount: 1)
        for row in 0..<100 { scratch.strings[0][row] = "basic" }
        for index in scratch.numeric.indices { scratch.numeric[index] = 1 }
        try model.run(100, scratch)
        model.monitoring?.recordBatch(scratch, rows: 100)
        let report = try #require(model.monitoring?.monitor?.refresh(now: 1, wallMillis: 0))
        #expect(report.windowRows == 25)
    }

    @Test func unprofiledVersionsSayWhy() {
        let base = fakeServable()
        let setup = VersionMonitoring.Setup(
            model: "churn", version: 1, profile: nil, note: "no reference profile", settings: MonitorSettings(),
            batchStride: 64, confidence: nil)
        let monitoring = VersionMonitoring(setup, features: base.features, labels: base.classLabels, isRegressor: false, now: 0)
        #expect(monitoring.monitor == nil)
        #expect(monitoring.note == "no reference profile")
    }
}
