import Foundation
import Testing

@testable import ModelRegistry

/// Decoding of MLflow REST responses (as MLflow 3.17 sends them) and of MLmodel files.
@Suite("MLflowAPI")
struct MLflowAPITests {
    @Test func decodesRegisteredModelsWithAliasesAndTags() throws {
        let json = """
            {"registered_models": [{"name": "churn", "creation_timestamp": 1796369225857,
              "description": "churn model", "tags": [{"key": "sluice.feature_names", "value": "a,b"}],
              "aliases": [{"alias": "champion", "version": "2"}],
              "latest_versions": [{"name": "churn", "version": "2"}]}], "next_page_token": "abc"}
            """
        let page = try JSONDecoder().decode(MLflowRegisteredModelsPage.self, from: Data(json.utf8))
        #expect(page.nextPageToken == "abc")
        #expect(page.registeredModels.count == 1)
        let model = page.registeredModels[0]
        #expect(model.name == "churn" && model.description == "churn model")
        #expect(model.aliases == [MLflowAlias(alias: "champion", version: "2")])
        #expect(model.tags == [MLflowTag(key: "sluice.feature_names", value: "a,b")])
    }

    @Test func decodesModelVersionsWithDefaultsForOmittedFields() throws {
        let json = """
            {"model_versions": [
              {"name": "churn", "version": "1", "creation_timestamp": 1796369225995, "current_stage": "Production",
               "source": "models:/m-4028", "run_id": "404f", "status": "READY", "run_link": ""},
              {"name": "churn", "version": "2"}]}
            """
        let page = try JSONDecoder().decode(MLflowModelVersionsPage.self, from: Data(json.utf8))
        #expect(page.nextPageToken == nil)
        let (first, second) = (page.modelVersions[0], page.modelVersions[1])
        #expect(first.version == "1" && first.currentStage == "Production" && first.runId == "404f")
        #expect(first.creationTimestamp == 1_796_369_225_995 && first.source == "models:/m-4028")
        #expect(second.currentStage == "None" && second.status == "READY" && second.tags.isEmpty)
        let empty = try JSONDecoder().decode(MLflowRegisteredModelsPage.self, from: Data("{}".utf8))
        #expect(empty.registeredModels.isEmpty)
    }

    @Test func decodesRunMetricsAndArtifactLocations() throws {
        let run = """
            {"run": {"info": {"run_id": "r1", "artifact_uri": "mlflow-artifacts:/1/r1/artifacts"},
             "data": {"metrics": [{"key": "auc_roc", "value": 0.91, "timestamp": 1, "step": 0}],
                      "params": [{"key": "fixture", "value": "x"}]}}}
            """
        let decoded = try JSONDecoder().decode(MLflowRunResponse.self, from: Data(run.utf8))
        #expect(decoded.run.info.artifactUri == "mlflow-artifacts:/1/r1/artifacts")
        #expect(decoded.run.data?.metrics?.first?.key == "auc_roc")
        let uri = try JSONDecoder().decode(
            MLflowDownloadURIResponse.self, from: Data(#"{"artifact_uri": "mlflow-artifacts:/1/models/m-1/artifacts"}"#.utf8))
        #expect(uri.artifactUri == "mlflow-artifacts:/1/models/m-1/artifacts")
    }

    @Test func readsFlavorsOfAnONNXMLmodel() {
        let text = """
            artifact_path: mlflow-artifacts:/1/models/m-40/artifacts
            flavors:
              onnx:
                code: null
                data: model.onnx
                onnx_version: 1.23.2
                providers:
                - CUDAExecutionProvider
              python_function:
                data: model.onnx
                env:
                  conda: conda.yaml
                loader_module: mlflow.onnx
            mlflow_version: 3.17.2
            """
        let file = MLmodelFile(parsing: text)
        #expect(file.flavors.keys.sorted() == ["onnx", "python_function"])
        #expect(file.onnxDataPath == "model.onnx")
        #expect(file.flavors["python_function"]?["loader_module"] == "mlflow.onnx")
        // Nested blocks are not flattened into the flavor.
        #expect(file.flavors["python_function"]?["conda"] == nil)
    }

    @Test func aSparkOnlyMLmodelHasNoONNXFile() {
        let file = MLmodelFile(parsing: "flavors:\n  spark:\n    model_data: sparkml\n    pyspark_version: 4.0.0\n")
        #expect(file.flavors.keys.sorted() == ["spark"])
        #expect(file.onnxDataPath == nil)
        #expect(MLmodelFile(parsing: "flavors:\n  onnx:\n    data: 'sub/m.onnx'\n").onnxDataPath == "sub/m.onnx")
    }

    @Test func mapsArtifactURIsToProxyPaths() {
        #expect(MLflowSource.proxyPath(of: "mlflow-artifacts:/1/models/m-1/artifacts") == "1/models/m-1/artifacts")
        #expect(MLflowSource.proxyPath(of: "mlflow-artifacts://host:5000/1/r/artifacts/model/") == "1/r/artifacts/model")
        #expect(MLflowSource.proxyPath(of: "s3://bucket/1/r") == nil)
        #expect(MLflowSource.proxyPath(of: "file:///tmp/a") == nil)
    }
}
