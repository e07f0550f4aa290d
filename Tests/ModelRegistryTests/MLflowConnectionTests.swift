import HTTPClient
import Testing

@testable import ModelRegistry

/// URL parsing and the requests the MLflow source builds: credentials the way MLflow's clients send them.
@Suite("MLflowConnection")
struct MLflowConnectionTests {
    @Test func bearerTokenWinsOverBasicCredentials() throws {
        let endpoint = try MLflowEndpoint(
            url: "mlflow+https://mlflow.example:5000/", caFile: nil,
            environment: [
                "MLFLOW_TRACKING_TOKEN": "t0ken", "MLFLOW_TRACKING_USERNAME": "ana",
                "MLFLOW_TRACKING_SERVER_CERT_PATH": "/etc/ca.pem",
            ])
        #expect(endpoint.baseURL == "https://mlflow.example:5000")
        #expect(endpoint.caFile == "/etc/ca.pem")
        let request = endpoint.request("GET", "/api/2.0/mlflow/registered-models/search", query: [("max_results", "1000")])
        #expect(request.url == "https://mlflow.example:5000/api/2.0/mlflow/registered-models/search?max_results=1000")
        #expect(request.header("authorization") == "Bearer t0ken")
    }

    @Test func basicCredentialsAndAnExplicitCA() throws {
        let endpoint = try MLflowEndpoint(
            url: "mlflow+http://127.0.0.1:5000", caFile: "/tmp/ca.pem",
            environment: [
                "MLFLOW_TRACKING_USERNAME": "ana", "MLFLOW_TRACKING_PASSWORD": "s3cret",
                "MLFLOW_TRACKING_SERVER_CERT_PATH": "/etc/ca.pem",
            ])
        #expect(endpoint.caFile == "/tmp/ca.pem")
        let request = endpoint.request("POST", "/api/2.0/mlflow/registered-models/alias", json: [
            "name": .string("churn"), "alias": .string("champion"), "version": .string("2"),
        ])
        #expect(request.header("Authorization") == "Basic YW5hOnMzY3JldA==")
        #expect(request.header("Content-Type") == "application/json")
        #expect(String(decoding: request.body, as: UTF8.self) == #"{"alias":"champion","name":"churn","version":"2"}"#)
    }

    @Test func noCredentialsNoAuthorizationHeader() throws {
        let endpoint = try MLflowEndpoint(url: "mlflow+http://localhost:5000", environment: [:])
        #expect(endpoint.request("GET", "/x").header("Authorization") == nil)
        #expect(endpoint.caFile == nil)
    }

    @Test func queryValuesArePercentEncoded() throws {
        let endpoint = try MLflowEndpoint(url: "mlflow+http://h:1/prefix", environment: [:])
        let request = endpoint.request("GET", "/api/2.0/mlflow/model-versions/search", query: [("filter", "name='churn v2'")])
        #expect(request.url == "http://h:1/prefix/api/2.0/mlflow/model-versions/search?filter=name%3D%27churn%20v2%27")
        #expect(MLflowEndpoint.percentEncode("1/models/m 1", keepSlash: true) == "1/models/m%201")
    }

    @Test func jsonBodiesEscapeAndCarryBooleans() {
        let body = MLflowEndpoint.jsonObject(["a": .string("q\"\\\n"), "b": .bool(true)])
        #expect(String(decoding: body, as: UTF8.self) == #"{"a":"q\"\\\n","b":true}"#)
    }

    @Test func rejectsURLsThatAreNotMLflow() {
        #expect(throws: RegistryError.self) { try MLflowEndpoint(url: "http://h:1", environment: [:]) }
        #expect(throws: RegistryError.self) { try MLflowEndpoint(url: "mlflow+http://", environment: [:]) }
        #expect(MLflowEndpoint.base64(Array("ab".utf8)) == "YWI=")
    }
}
