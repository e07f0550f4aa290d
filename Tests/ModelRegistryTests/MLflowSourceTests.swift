import Foundation
import Testing

@testable import ModelRegistry

/// How MLflow's state becomes the registry's view, and the offline behaviour of the source.
@Suite("MLflowSource")
struct MLflowSourceTests {
    func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    @Test func buildsMetadataWithStagesAliasesMetricsAndSluiceTags() throws {
        let model = try decode(
            MLflowRegisteredModel.self,
            """
            {"name": "churn", "description": "d", "aliases": [{"alias": "champion", "version": "2"},
             {"alias": "Bad Alias", "version": "1"}],
             "tags": [{"key": "sluice.feature_names", "value": "[\\"age\\",\\"income\\"]"},
                      {"key": "sluice.batching.max_batch_size", "value": "16"}]}
            """)
        let versions = try decode(
            [MLflowModelVersion].self,
            """
            [{"name": "churn", "version": "2", "current_stage": "Staging", "run_id": "r2", "source": "models:/m-2",
              "tags": [{"key": "team", "value": "ds"}], "creation_timestamp": 7},
             {"name": "churn", "version": "1", "current_stage": "Production", "run_id": "r1", "source": "models:/m-1"},
             {"name": "churn", "version": "3", "status": "PENDING_REGISTRATION"}]
            """)
        let (metadata, problems) = MLflowSource.metadata(
            model, versions: versions, runMetrics: ["r2": ["auc_roc": 0.93]])
        #expect(metadata.versions.map(\.version) == [1, 2])
        #expect(metadata.version(1)?.stage == .production && metadata.version(2)?.stage == .staging)
        #expect(metadata.version(2)?.metrics == ["auc_roc": 0.93] && metadata.version(2)?.runId == "r2")
        #expect(metadata.version(2)?.tags == ["team": "ds"] && metadata.version(2)?.createdUnixMs == 7)
        #expect(metadata.aliases == ["champion": 2])
        #expect(metadata.featureNames == ["age", "income"])
        #expect(metadata.batching == BatchingOptions(maxBatchSize: 16, maxQueueDelayMicros: 500))
        #expect(problems.count == 1 && problems[0].contains("Bad Alias"))
    }

    @Test func commaSeparatedFeatureNamesAndBadBatchingTags() throws {
        let model = try decode(
            MLflowRegisteredModel.self,
            #"{"name": "m", "tags": [{"key": "sluice.feature_names", "value": "a, b ,c"}, {"key": "sluice.batching.max_batch_size", "value": "1"}]}"#
        )
        let (metadata, problems) = MLflowSource.metadata(model, versions: [], runMetrics: [:])
        #expect(metadata.featureNames == ["a", "b", "c"])
        #expect(metadata.batching == nil)
        #expect(problems.count == 1)
    }

    @Test func fallbackTagNamesAVersionOrIsReported() throws {
        let good = try decode(
            MLflowRegisteredModel.self, #"{"name": "m", "tags": [{"key": "sluice.fallback", "value": " 3 "}]}"#)
        #expect(MLflowSource.metadata(good, versions: [], runMetrics: [:]).0.fallback == 3)
        let bad = try decode(
            MLflowRegisteredModel.self, #"{"name": "m", "tags": [{"key": "sluice.fallback", "value": "v3"}]}"#)
        let (metadata, problems) = MLflowSource.metadata(bad, versions: [], runMetrics: [:])
        #expect(metadata.fallback == nil)
        #expect(problems.count == 1 && problems[0].contains("sluice.fallback"))
    }

    @Test func unreachableServerWithEmptyCacheHasNoStateAndBacksOff() throws {
        // Port 1 on loopback refuses connections immediately.
        let endpoint = try MLflowEndpoint(url: "mlflow+http://127.0.0.1:1", environment: [:])
        let lines = LogLines()
        let source = MLflowSource(endpoint: endpoint, cacheDirectory: makeTempDirectory(), log: lines.append)
        let token = source.changeToken()
        #expect(source.health().up == false && source.health().hasState == false)
        #expect(source.health().detail.contains("no cached state"))
        #expect(throws: RegistryError.self) { try source.listModels() }
        #expect(source.changeToken() == token)
        #expect(lines.all.count == 1 && lines.all[0].contains("NOT_SERVING"))
    }

    @Test func aCachedStateIsServedWhileTheServerIsUnreachable() throws {
        let directory = makeTempDirectory()
        let endpoint = try MLflowEndpoint(url: "mlflow+http://127.0.0.1:1", environment: [:])
        let bytes = Array("onnx bytes".utf8)
        try FileManager.default.createDirectory(
            atPath: directory + "/artifacts/churn", withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/artifacts/churn/1.onnx"))
        let sha = SHA256Digest.hex(of: bytes)
        try MLflowCache.save(
            MLflowCacheIndex(
                location: endpoint.baseURL, syncedUnixMs: 1_000,
                models: [
                    ModelMetadata(
                        name: "churn", aliases: ["champion": 1],
                        versions: [VersionMetadata(version: 1, source: "models:/m-1", sha256: sha)])
                ],
                artifacts: [
                    MLflowCacheEntry(
                        model: "churn", version: 1, source: "models:/m-1", sha256: sha,
                        bytes: bytes.count, file: "artifacts/churn/1.onnx", cachedUnixMs: 1)
                ]),
            directory: directory)
        let source = MLflowSource(endpoint: endpoint, cacheDirectory: directory)
        _ = source.changeToken()
        #expect(source.health().hasState && !source.health().up)
        #expect(source.health().detail.contains("serving the state cached at"))
        #expect(try source.listModels() == ["churn"])
        #expect(try source.metadata(of: "churn").aliases == ["champion": 1])
        #expect(try source.modelBytes(model: "churn", version: 1) == bytes)
        // No profile cached and MLflow unreachable: an error (the version serves unmonitored, saying why).
        #expect(throws: RegistryError.self) { try source.profileBytes(model: "churn", version: 1) }
        #expect(source.missingProfileHint(model: "churn", version: 1).contains("no profile.json artifact"))
        #expect(throws: RegistryError.self) { try source.writeProfile([], model: "churn", version: 1) }
        // A profile cached with the model is used while MLflow is down.
        let profile = Array("{\"format\": 1}".utf8)
        try Data(profile).write(to: URL(fileURLWithPath: directory + "/artifacts/churn/1.profile.json"))
        #expect(try source.profileBytes(model: "churn", version: 1) == profile)
        // A cache written for another server is ignored.
        let other = MLflowSource(
            endpoint: try MLflowEndpoint(url: "mlflow+http://127.0.0.1:2", environment: [:]), cacheDirectory: directory)
        #expect(other.health().hasState == false)
    }
}

/// Collects log lines from any thread.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var append: @Sendable (String) -> Void { { line in self.lock.withLock { self.lines.append(line) } } }
    var all: [String] { lock.withLock { lines } }
}
