@testable import InferenceService
import Testing
import TextFormats

/// Calls the REST routes directly (no listener) on the fake `churn` model of `makeAPI()`: inputs `a`, `b` (FP32
/// [-1, 1]) and `plan` (BYTES [-1, 1]); outputs `label` and `probabilities`.
private func call(
    _ rest: OpenInferenceREST, _ method: String, _ path: String, _ body: [UInt8] = [], headers: [String: String] = [:]
) -> (status: Int, json: JSONValue?, response: OpenInferenceREST.Response) {
    let response = rest.handle(method: method, path: path, body: body, peer: "127.0.0.1:1") { headers[$0.lowercased()] }
    var jsonPart = response.body
    if let length = response.headers.first(where: { $0.0 == "Inference-Header-Content-Length" }).flatMap({ Int($0.1) }) {
        jsonPart = Array(response.body[0..<length])
    }
    return (response.status, try? JSONParser.parse(jsonPart), response)
}

private func makeREST() throws -> OpenInferenceREST {
    OpenInferenceREST(api: try makeAPI(), health: nil, serverVersion: "test")
}

@Suite("OpenInferenceREST")
struct OpenInferenceRESTTests {
    @Test("health, server metadata and model metadata")
    func metadata() throws {
        let rest = try makeREST()
        #expect(call(rest, "GET", "/v2/health/live").json?["live"] == .bool(true))
        #expect(call(rest, "GET", "/v2").json?["version"]?.stringValue == "test")
        let model = call(rest, "GET", "/v2/models/churn")
        #expect(model.status == 200)
        guard case .array(let inputs)? = model.json?["inputs"] else { Issue.record("no inputs"); return }
        #expect(inputs.compactMap { $0["name"]?.stringValue } == ["a", "b", "plan"])
        #expect(call(rest, "GET", "/v2/models/churn/versions/1/ready").status == 200)
        #expect(call(rest, "GET", "/v2/models/churn/config").json?["max_batch_size"] == .number(0))
    }

    @Test("JSON tensors, flat or nested, answer JSON outputs")
    func jsonInfer() throws {
        let rest = try makeREST()
        let body = Array(
            """
            {"id":"r1","inputs":[{"name":"a","shape":[2,1],"datatype":"FP32","data":[[1],[-5]]},
            {"name":"b","shape":[2,1],"datatype":"FP32","data":[2,1]},
            {"name":"plan","shape":[2,1],"datatype":"BYTES","data":["basic","pro"]}]}
            """.utf8)
        let answer = call(rest, "POST", "/v2/models/churn/infer", body)
        #expect(answer.status == 200)
        #expect(answer.json?["id"]?.stringValue == "r1")
        guard case .array(let outputs)? = answer.json?["outputs"] else { Issue.record("no outputs"); return }
        let label = outputs.first { $0["name"]?.stringValue == "label" }
        #expect(label?["data"] == .array([.number(1), .number(0)]))
        #expect(label?["shape"] == .array([.number(2)]))
    }

    @Test("binary tensors in and out (Inference-Header-Content-Length)")
    func binaryInfer() throws {
        let rest = try makeREST()
        let header = Array(
            """
            {"inputs":[{"name":"a","shape":[1,1],"datatype":"FP32","parameters":{"binary_data_size":4}},
            {"name":"b","shape":[1,1],"datatype":"FP32","parameters":{"binary_data_size":4}},
            {"name":"plan","shape":[1,1],"datatype":"BYTES","parameters":{"binary_data_size":9}}],
            "outputs":[{"name":"label","parameters":{"binary_data":true}}]}
            """.utf8)
        var body = header
        withUnsafeBytes(of: Float(3).bitPattern.littleEndian) { body += $0 }
        withUnsafeBytes(of: Float(4).bitPattern.littleEndian) { body += $0 }
        withUnsafeBytes(of: UInt32(5).littleEndian) { body += $0 }
        body += Array("basic".utf8)
        let answer = call(
            rest, "POST", "/v2/models/churn/infer", body,
            headers: ["inference-header-content-length": String(header.count)])
        #expect(answer.status == 200)
        #expect(answer.response.contentType == "application/octet-stream")
        let length = try #require(
            answer.response.headers.first { $0.0 == "Inference-Header-Content-Length" }.flatMap { Int($0.1) })
        // One INT64 label, 1, after the JSON.
        #expect(Array(answer.response.body[length...]) == [1, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test("errors are JSON with a fitting status and a precise message")
    func errors() throws {
        let rest = try makeREST()
        func error(_ answer: (status: Int, json: JSONValue?, response: OpenInferenceREST.Response)) -> String {
            answer.json?["error"]?.stringValue ?? ""
        }
        let route = call(rest, "GET", "/v1/models")
        #expect(route.status == 404 && error(route).contains("/v2"))
        let method = call(rest, "GET", "/v2/models/churn/infer")
        #expect(method.status == 501 && error(method).contains("POST"))
        let json = call(rest, "POST", "/v2/models/churn/infer", Array("{nope".utf8))
        #expect(json.status == 400 && error(json).contains("not valid JSON"))
        let unknown = call(rest, "GET", "/v2/models/nope")
        #expect(unknown.status == 404)
        let count = call(
            rest, "POST", "/v2/models/churn/infer",
            Array(#"{"inputs":[{"name":"a","shape":[2,1],"datatype":"FP32","data":[1]}]}"#.utf8))
        #expect(count.status == 400 && error(count).contains("holds 2 elements but data has 1"))
        let header = call(
            rest, "POST", "/v2/models/churn/infer", Array("{}".utf8), headers: ["inference-header-content-length": "9"])
        #expect(header.status == 400 && error(header).contains("Inference-Header-Content-Length"))
        let leftover = call(
            rest, "POST", "/v2/models/churn/infer", Array(#"{"inputs":[]}xyz"#.utf8),
            headers: ["inference-header-content-length": "13"])
        #expect(leftover.status == 400 && error(leftover).contains("no input claims"))
    }
}
