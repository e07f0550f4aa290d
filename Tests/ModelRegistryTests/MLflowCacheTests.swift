import Foundation
import Testing

@testable import ModelRegistry

/// The cache's eviction order: unselected versions first, lowest version first; the newest file is kept.
@Suite("MLflowCache")
struct MLflowCacheTests {
    func entry(_ version: Int64, bytes: Int, cachedAt: Int64 = 0, model: String = "churn") -> MLflowCacheEntry {
        MLflowCacheEntry(
            model: model, version: version, source: "s\(version)", sha256: "", bytes: bytes,
            file: "artifacts/\(model)/\(version).onnx", cachedUnixMs: cachedAt)
    }

    @Test func nothingIsEvictedWithinTheBound() {
        let entries = [entry(1, bytes: 40), entry(2, bytes: 60)]
        #expect(MLflowCache.evictions(entries, maxBytes: 100, selected: [], keep: nil).isEmpty)
    }

    @Test func oldestVersionsGoFirst() {
        let entries = [entry(3, bytes: 40), entry(1, bytes: 40), entry(2, bytes: 40)]
        let evicted = MLflowCache.evictions(entries, maxBytes: 80, selected: [], keep: "churn/3")
        #expect(evicted.map(\.version) == [1])
        let more = MLflowCache.evictions(entries, maxBytes: 40, selected: [], keep: "churn/3")
        #expect(more.map(\.version) == [1, 2])
    }

    @Test func servedVersionsAreEvictedLastAndTheNewFileNever() {
        let entries = [entry(1, bytes: 50), entry(2, bytes: 50), entry(3, bytes: 50)]
        let evicted = MLflowCache.evictions(entries, maxBytes: 100, selected: ["churn/1"], keep: "churn/3")
        #expect(evicted.map(\.version) == [2])
        let tight = MLflowCache.evictions(entries, maxBytes: 10, selected: ["churn/1"], keep: "churn/3")
        #expect(tight.map(\.version) == [2, 1])
    }

    @Test func indexRoundTripsThroughTheDirectory() throws {
        let directory = makeTempDirectory()
        let index = MLflowCacheIndex(
            location: "http://127.0.0.1:5000", syncedUnixMs: 42,
            models: [ModelMetadata(name: "churn", aliases: ["champion": 1], versions: [VersionMetadata(version: 1, runId: "r")])],
            artifacts: [entry(1, bytes: 10)])
        try MLflowCache.save(index, directory: directory)
        #expect(try MLflowCache.load(directory: directory) == index)
        #expect(try MLflowCache.load(directory: directory + "/missing") == nil)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: directory + "/index.json"))
        #expect(throws: RegistryError.self) { try MLflowCache.load(directory: directory) }
    }
}
