import Foundation
import ModelRegistry
import Testing
import TrafficRouting

@testable import InferenceService

/// A registry directory with model `churn`: v1 Production, v2 Staging (alias `challenger`), v3 None.
private struct BridgeFixture {
    let root: String
    let source: LocalDirectorySource
    let bridge: RegistryRolloutBridge

    init() throws {
        root = ScratchDirectory.make("bridge")
        source = LocalDirectorySource(root: root)
        for (stage, aliases) in [(Stage.production, ["champion"]), (.staging, ["challenger"]), (.none, [])] {
            _ = try source.register(
                model: "churn", bytes: Array("fake".utf8), source: "", stage: stage, aliases: aliases, tags: [:],
                metrics: [:], description: "")
        }
        let registry = ModelRegistry<ServableModel>(source: source) { _, _, _ in fakeServable() }
        registry.scanNow()
        bridge = RegistryRolloutBridge(registry: registry, source: source)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    func stages() throws -> [Int64: Stage] {
        Dictionary(uniqueKeysWithValues: try source.metadata(of: "churn").versions.map { ($0.version, $0.stage) })
    }
}

/// The rollout error `body` throws (records an issue when it did not throw).
private func rolloutError(_ body: () throws -> Void) -> RolloutError? {
    do {
        try body()
        Issue.record("expected a RolloutError")
    } catch let error as RolloutError {
        return error
    } catch {
        Issue.record("unexpected \(error)")
    }
    return nil
}

@Suite("RegistryRolloutBridge")
struct RegistryRolloutBridgeTests {
    @Test func resolvesEverySelectorKind() throws {
        let fixture = try BridgeFixture()
        defer { fixture.remove() }
        let bridge = fixture.bridge
        #expect(try bridge.resolve(model: "churn", selector: "3") == 3)
        #expect(try bridge.resolve(model: "churn", selector: "@challenger") == 2)
        #expect(try bridge.resolve(model: "churn", selector: "@champion") == 1)
        #expect(try bridge.resolve(model: "churn", selector: "staging") == 2)
        #expect(try bridge.resolve(model: "churn", selector: "Production") == 1)
        #expect(try bridge.resolve(model: "churn", selector: "models:/churn@challenger") == 2)
        #expect(bridge.productionVersion(model: "churn") == 1)
        #expect(bridge.productionVersion(model: "absent") == nil)
    }

    @Test func unresolvableSelectorsAreNamedErrors() throws {
        let fixture = try BridgeFixture()
        defer { fixture.remove() }
        let bridge = fixture.bridge
        let missingVersion = rolloutError { _ = try bridge.resolve(model: "churn", selector: "9") }
        #expect(missingVersion?.code == .notFound)
        #expect(missingVersion?.message == "model \"churn\" has no version 9")
        let missingAlias = rolloutError { _ = try bridge.resolve(model: "churn", selector: "@nope") }
        #expect(missingAlias?.message == "model \"churn\" has no alias \"@nope\"")
        try bridge.archive(model: "churn", version: 2)
        let missingStage = rolloutError { _ = try bridge.resolve(model: "churn", selector: "staging") }
        #expect(missingStage?.code == .notFound)
        #expect(missingStage?.message == "model \"churn\" has no Staging version")
        let otherModel = rolloutError { _ = try bridge.resolve(model: "churn", selector: "models:/fraud/1") }
        #expect(otherModel?.code == .invalidArgument)
        #expect(otherModel?.message.contains("names model \"fraud\", not \"churn\"") == true)
        #expect(rolloutError { _ = try bridge.resolve(model: "absent", selector: "1") }?.code == .notFound)
        #expect(rolloutError { _ = try bridge.resolve(model: "churn", selector: "@@") }?.code == .invalidArgument)
    }

    @Test func promoteMakesCandidateProductionAndArchivesBaseline() throws {
        let fixture = try BridgeFixture()
        defer { fixture.remove() }
        try fixture.bridge.promote(model: "churn", candidate: 3, archiving: 2)
        #expect(try fixture.stages() == [1: .archived, 2: .archived, 3: .production])
        #expect(fixture.bridge.productionVersion(model: "churn") == 3)
        fixture.bridge.awaitServingProduction(model: "churn", version: 3)
        #expect(fixture.bridge.registry.snapshot.models["churn"]?.production?.version == 3)
    }

    @Test func promoteOfMissingVersionChangesNothing() throws {
        let fixture = try BridgeFixture()
        defer { fixture.remove() }
        let error = rolloutError { try fixture.bridge.promote(model: "churn", candidate: 8, archiving: nil) }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("has no version 8") == true)
        #expect(try fixture.stages() == [1: .production, 2: .staging, 3: .none])
    }

    @Test func archiveMovesOneVersion() throws {
        let fixture = try BridgeFixture()
        defer { fixture.remove() }
        try fixture.bridge.archive(model: "churn", version: 2)
        #expect(try fixture.stages() == [1: .production, 2: .archived, 3: .none])
    }
}
