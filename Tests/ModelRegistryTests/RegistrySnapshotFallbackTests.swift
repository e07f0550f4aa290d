import Foundation
import ModelRegistry
import Testing

/// The fallback version: kept loaded, named by the snapshot when it stands in for a failed Production version,
/// and what keeps `/readyz` ready then.
@Suite("RegistrySnapshot fallback version")
struct RegistrySnapshotFallbackTests {
    /// churn: v1 archived (good), v2 Production (corrupt); `fallback` names v1 when given.
    func makeRegistry(fallback: Int64?) throws -> (LocalDirectorySource, ModelRegistry<FakeModel>) {
        let source = LocalDirectorySource(root: makeTempDirectory())
        _ = try source.register(
            model: "churn", bytes: Array("good".utf8), source: "", stage: .archived, aliases: [], tags: [:],
            metrics: [:], description: "")
        _ = try source.register(
            model: "churn", bytes: Array("corrupt".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        _ = try source.updateMetadata(of: "churn") { $0.fallback = fallback }
        let registry = ModelRegistry<FakeModel>(source: source, loader: fakeLoader)
        registry.scanNow()
        return (source, registry)
    }

    @Test func theFallbackIsLoadedAndStandsInForAFailedProduction() throws {
        let (_, registry) = try makeRegistry(fallback: 1)
        let snapshot = registry.snapshot
        let churn = try #require(snapshot.models["churn"])
        #expect(churn.states[1] == .ready)
        #expect(churn.fallback?.version == 1)
        #expect(churn.productionFallback?.version == 1)
        #expect(churn.defaultTrafficShare(of: 1) == 1 && churn.defaultTrafficShare(of: 2) == 0)
        #expect(snapshot.modelsWithFailedProduction.isEmpty)
        #expect(snapshot.failureReport.contains("fallback: churn version 1 serves in place of failed Production version 2"))
        // Explicit selectors are still the truth.
        #expect(throws: RegistryError.self) { try churn.resolve(.version(2)) }
    }

    @Test func withoutAFallbackTheFailedProductionMakesTheModelNotReady() throws {
        let (source, registry) = try makeRegistry(fallback: nil)
        let churn = try #require(registry.snapshot.models["churn"])
        #expect(churn.fallback == nil && churn.productionFallback == nil)
        #expect(churn.states[1] == .notLoaded)
        #expect(registry.snapshot.modelsWithFailedProduction == ["churn"])
        // Naming the fallback later loads it and makes the model ready again.
        _ = try source.updateMetadata(of: "churn") { $0.fallback = 1 }
        registry.scanNow()
        #expect(registry.snapshot.models["churn"]?.productionFallback?.version == 1)
        #expect(registry.snapshot.modelsWithFailedProduction.isEmpty)
    }

    @Test func aHealthyProductionIsNotReplaced() throws {
        let source = LocalDirectorySource(root: makeTempDirectory())
        _ = try source.register(
            model: "churn", bytes: Array("good".utf8), source: "", stage: .archived, aliases: [], tags: [:],
            metrics: [:], description: "")
        _ = try source.register(
            model: "churn", bytes: Array("good too".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        _ = try source.updateMetadata(of: "churn") { $0.fallback = 1 }
        let registry = ModelRegistry<FakeModel>(source: source, loader: fakeLoader)
        registry.scanNow()
        let churn = try #require(registry.snapshot.models["churn"])
        #expect(churn.fallback?.version == 1 && churn.productionFallback == nil)
        #expect(try churn.resolve(.routed).version == 2)
        #expect(registry.snapshot.fallbackReport.isEmpty)
    }

    @Test func modelJSONKeepsTheFallback() throws {
        let (source, _) = try makeRegistry(fallback: 1)
        #expect(try source.metadata(of: "churn").fallback == 1)
        _ = try source.updateMetadata(of: "churn") { $0.fallback = nil }
        #expect(try source.metadata(of: "churn").fallback == nil)
    }
}
