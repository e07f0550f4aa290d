import Foundation
import ModelRegistry
import Synchronization
import Testing

/// A stand-in for a compiled model: the registry is generic over what the loader returns.
final class FakeModel: Sendable {
    let text: String
    init(_ text: String) { self.text = text }
}

struct LoadFailure: Error, CustomStringConvertible {
    let description: String
}

func makeTempDirectory() -> String {
    let path = NSTemporaryDirectory() + "sluice-registry-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func fakeLoader(_ bytes: [UInt8], _ model: ModelMetadata, _ version: VersionMetadata) throws -> FakeModel {
    let text = String(decoding: bytes, as: UTF8.self)
    if text.hasPrefix("corrupt") { throw LoadFailure(description: "not an ONNX model (bad magic)") }
    return FakeModel(text)
}

@Suite("ModelRegistry")
struct ModelRegistryTests {
    @Test func registerPromoteAliasAndResolve() throws {
        let root = makeTempDirectory()
        let source = LocalDirectorySource(root: root)
        let v1 = try source.register(
            model: "churn", bytes: Array("one".utf8), source: "file:///one", stage: .production, aliases: [],
            tags: ["team": "risk"], metrics: ["auc": 0.9], description: "first")
        let v2 = try source.register(
            model: "churn", bytes: Array("two".utf8), source: "file:///two", stage: .staging, aliases: ["challenger"],
            tags: [:], metrics: [:], description: "")
        #expect(v1 == 1 && v2 == 2)

        let registry = ModelRegistry<FakeModel>(source: source, loader: fakeLoader)
        registry.scanNow()
        let entry = try #require(registry.snapshot.models["churn"])
        #expect(try entry.resolve(.routed).compiled.text == "one")
        #expect(try entry.resolve(.stage(.staging)).compiled.text == "two")
        #expect(try entry.resolve(.alias("challenger")).version == 2)
        #expect(try entry.resolve(.version(1)).version == 1)
        #expect(entry.metadata.version(1)?.tags["team"] == "risk")
        #expect(entry.workers[1]?.sha256 == entry.metadata.version(1)?.sha256)

        try source.transition(model: "churn", version: 2, to: .production)
        registry.scanNow()
        let after = try #require(registry.snapshot.models["churn"])
        #expect(try after.resolve(.routed).version == 2)
        #expect(after.metadata.version(1)?.stage == .archived)
        // Version 1 is archived with no alias: released.
        #expect(after.states[1] == .retired)
        #expect(throws: RegistryError.self) { try after.resolve(.version(1)) }
    }

    @Test func loadPassListenersRunAfterScansThatLoadedAndOnlyThen() throws {
        let root = makeTempDirectory()
        let source = LocalDirectorySource(root: root)
        _ = try source.register(
            model: "churn", bytes: Array("one".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        let registry = ModelRegistry<FakeModel>(source: source, loader: fakeLoader)
        let passes = Mutex<[Int64?]>([])
        registry.onLoadPassFinished {
            // Runs after the pass's snapshots are published: the loaded version already serves.
            let version = try? registry.snapshot.models["churn"]?.resolve(.routed).version
            passes.withLock { $0.append(version) }
        }
        registry.scanNow()
        #expect(passes.withLock { $0 } == [1])
        registry.scanNow()  // nothing new to load
        #expect(passes.withLock { $0 } == [1])
        _ = try source.register(
            model: "churn", bytes: Array("two".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        registry.scanNow()
        #expect(passes.withLock { $0 } == [1, 2])
    }

    @Test func failedVersionNeverTakesTraffic() throws {
        let root = makeTempDirectory()
        let source = LocalDirectorySource(root: root)
        _ = try source.register(
            model: "churn", bytes: Array("good".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        let registry = ModelRegistry<FakeModel>(source: source, loader: fakeLoader)
        registry.scanNow()
        _ = try source.register(
            model: "churn", bytes: Array("corrupt!".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        registry.scanNow()
        let entry = try #require(registry.snapshot.models["churn"])
        #expect(try entry.resolve(.routed).compiled.text == "good")
        guard case .failed(let reason)? = entry.states[2] else {
            Issue.record("expected version 2 FAILED, got \(String(describing: entry.states[2]))")
            return
        }
        #expect(reason.contains("bad magic"))
    }

    @Test func handMadeDirectoryServesNewestVersion() throws {
        let root = makeTempDirectory()
        for version in [1, 3] {
            try FileManager.default.createDirectory(atPath: "\(root)/fraud/\(version)", withIntermediateDirectories: true)
            try Data("v\(version)".utf8).write(to: URL(fileURLWithPath: "\(root)/fraud/\(version)/model.onnx"))
        }
        let registry = ModelRegistry<FakeModel>(source: LocalDirectorySource(root: root), loader: fakeLoader)
        registry.scanNow()
        let entry = try #require(registry.snapshot.models["fraud"])
        #expect(try entry.resolve(.routed).compiled.text == "v3")
        #expect(entry.states[1] == .notLoaded)
    }

    @Test func interruptedMetadataWriteLeavesPreviousState() throws {
        let root = makeTempDirectory()
        let source = LocalDirectorySource(root: root)
        _ = try source.register(
            model: "churn", bytes: Array("one".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        // A writer that died after creating its temp file but before the rename.
        try Data("{\"name\": \"churn\", \"vers".utf8).write(to: URL(fileURLWithPath: "\(root)/churn/model.json.tmp-999-1"))
        let metadata = try source.metadata(of: "churn")
        #expect(metadata.versions.count == 1)
        #expect(metadata.versions[0].stage == .production)
    }

    @Test func backgroundThreadPicksUpChanges() async throws {
        let root = makeTempDirectory()
        let source = LocalDirectorySource(root: root)
        _ = try source.register(
            model: "churn", bytes: Array("one".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        let registry = ModelRegistry<FakeModel>(source: source, pollInterval: .milliseconds(20), loader: fakeLoader)
        registry.start()
        defer { registry.stop() }
        for _ in 0..<200 where !registry.initialLoadComplete { try await Task.sleep(for: .milliseconds(10)) }
        #expect(try registry.snapshot.models["churn"]?.resolve(.routed).version == 1)
        _ = try source.register(
            model: "churn", bytes: Array("two".utf8), source: "", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "")
        var served: Int64 = 0
        for _ in 0..<300 {
            served = (try? registry.snapshot.models["churn"]?.resolve(.routed).version) ?? 0
            if served == 2 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(served == 2)
    }
}

/// A source whose files cannot be fetched until `reachable` is set (a remote registry that went down).
final class FlakySource: ModelSource, @unchecked Sendable {
    private let lock = NSLock()
    private var _reachable = false
    var reachable: Bool {
        get { lock.withLock { _reachable } }
        set { lock.withLock { _reachable = newValue } }
    }
    let location = "flaky"
    func listModels() throws(RegistryError) -> [String] { ["churn"] }
    func metadata(of model: String) throws(RegistryError) -> ModelMetadata {
        ModelMetadata(name: "churn", aliases: ["champion": 1], versions: [VersionMetadata(version: 1)])
    }
    func modelBytes(model: String, version: Int64) throws(RegistryError) -> [UInt8] {
        guard reachable else { throw RegistryError(.unavailable, "source unreachable") }
        return Array("v1".utf8)
    }
    func changeToken() -> String { "fixed" }
}

@Suite("ModelRegistry transient failures")
struct ModelRegistryTransientTests {
    @Test func aVersionThatFailedBecauseTheSourceWasDownIsRetried() throws {
        let source = FlakySource()
        let registry = ModelRegistry<FakeModel>(source: source, loader: fakeLoader)
        registry.scanNow()
        let entry = try #require(registry.snapshot.models["churn"])
        #expect(entry.states[1] == .failed(reason: "source unreachable"))
        // FAILED with the reason until the source answers again; the next scan retries it.
        #expect(throws: RegistryError(.failedPrecondition, "model \"churn\": alias @champion (version 1) failed to load: source unreachable")) {
            try entry.resolve(.alias("champion"))
        }
        source.reachable = true
        registry.scanNow()
        #expect(try registry.snapshot.models["churn"]?.resolve(.alias("champion")).compiled.text == "v1")
    }

    @Test func otherFailuresStayFailedUntilTheFileChanges() throws {
        let root = makeTempDirectory()
        let source = LocalDirectorySource(root: root)
        _ = try source.register(
            model: "churn", bytes: Array("corrupt".utf8), source: "x", stage: .production, aliases: [], tags: [:],
            metrics: [:], description: "", featureNames: nil)
        let lines = LogLines()
        let registry = ModelRegistry<FakeModel>(source: source, log: lines.append, loader: fakeLoader)
        registry.scanNow()
        registry.scanNow()
        #expect(lines.all.filter { $0.contains("FAILED") }.count == 1)
    }
}
