import Foundation
import ModelRegistry
import Testing

/// Failed versions: every selector that resolves to one answers FAILED_PRECONDITION with the load error, and the
/// snapshot reports them (for `/readyz` and `sluice_model_version_failed`).
@Suite("RegistrySnapshot failed versions")
struct RegistrySnapshotHealthTests {
    /// A registry with churn v1 Production (good), v2 Staging + @candidate (corrupt), and solo v1 Production (corrupt).
    func makeRegistry() throws -> ModelRegistry<FakeModel> {
        let source = LocalDirectorySource(root: makeTempDirectory())
        _ = try source.register(
            model: "churn", bytes: Array("good".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        _ = try source.register(
            model: "churn", bytes: Array("corrupt two".utf8), source: "", stage: .staging, aliases: ["candidate"],
            tags: [:], metrics: [:], description: "")
        _ = try source.register(
            model: "solo", bytes: Array("corrupt solo".utf8), source: "", stage: .production, aliases: [],
            tags: [:], metrics: [:], description: "")
        let registry = ModelRegistry<FakeModel>(source: source, loader: fakeLoader)
        registry.scanNow()
        return registry
    }

    @Test func everySelectorOfAFailedVersionIsFailedPrecondition() throws {
        let snapshot = try makeRegistry().snapshot
        let churn = try #require(snapshot.models["churn"])
        for selector in ["staging", "@candidate", "2", "models:/churn/Staging", "models:/churn@candidate"] {
            let parsed = try VersionSelector.parse(selector)
            do {
                _ = try churn.resolve(parsed.selector)
                Issue.record("\(selector) resolved")
            } catch {
                #expect(error.code == .failedPrecondition, "\(selector): \(error.message)")
                #expect(error.message.contains("failed to load") && error.message.contains("bad magic"))
            }
        }
        #expect(try churn.resolve(.routed).version == 1)
        let solo = try #require(snapshot.models["solo"])
        #expect(
            throws: RegistryError(
                .failedPrecondition,
                "model \"solo\": its Production version (version 1) failed to load: not an ONNX model (bad magic)")
        ) { try solo.resolve(.routed) }
    }

    @Test func snapshotNamesFailedVersionsAndModelsWithoutProduction() throws {
        let snapshot = try makeRegistry().snapshot
        #expect(
            snapshot.failedVersions.map { "\($0.model)/\($0.version)/\($0.stage)/\($0.aliases)" }
                == ["churn/2/Staging/[\"candidate\"]", "solo/1/Production/[]"])
        #expect(snapshot.modelsWithFailedProduction == ["solo"])
        #expect(
            snapshot.failureReport.first
                == "failed: churn version 2 (Staging, @candidate): not an ONNX model (bad magic)")
    }

    @Test func aFailedNewProductionLeavesThePreviousOneServingAndReady() throws {
        let source = LocalDirectorySource(root: makeTempDirectory())
        _ = try source.register(
            model: "churn", bytes: Array("good".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        let registry = ModelRegistry<FakeModel>(source: source, loader: fakeLoader)
        registry.scanNow()
        _ = try source.register(
            model: "churn", bytes: Array("corrupt".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        registry.scanNow()
        #expect(registry.snapshot.modelsWithFailedProduction.isEmpty)
        #expect(registry.snapshot.failedVersions.map(\.version) == [2])
    }
}

/// UNAVAILABLE is kept for the one case where retrying works: the version is still loading.
@Suite("RegistrySnapshot loading versions")
struct RegistrySnapshotLoadingTests {
    /// Opens when the test lets the loader finish.
    final class Gate: @unchecked Sendable {
        private let lock = NSCondition()
        private var open = false
        func wait() {
            lock.lock()
            while !open { lock.wait() }
            lock.unlock()
        }
        func release() {
            lock.lock()
            open = true
            lock.broadcast()
            lock.unlock()
        }
    }

    @Test func aVersionStillLoadingIsUnavailableThenServes() throws {
        let source = LocalDirectorySource(root: makeTempDirectory())
        _ = try source.register(
            model: "churn", bytes: Array("slow".utf8), source: "", stage: .staging, aliases: [], tags: [:],
            metrics: [:], description: "")
        let gate = Gate()
        let registry = ModelRegistry<FakeModel>(source: source, pollInterval: .milliseconds(20)) { bytes, _, _ in
            gate.wait()
            return FakeModel(String(decoding: bytes, as: UTF8.self))
        }
        registry.start()
        defer { registry.stop() }
        let deadline = Date().addingTimeInterval(20)
        while registry.snapshot.models["churn"]?.states[1] != .loading && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        let loading = try #require(registry.snapshot.models["churn"])
        #expect(
            throws: RegistryError(
                .unavailable, "model \"churn\": its Staging version (version 1) is still loading; retry shortly")
        ) { try loading.resolve(.stage(.staging)) }
        gate.release()
        while registry.snapshot.models["churn"]?.states[1] != .ready && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        #expect(try registry.snapshot.models["churn"]?.resolve(.stage(.staging)).version == 1)
    }
}
