public import Auth
public import GRPCCore

/// The Open Inference Protocol REST routes (KServe v2 with Triton's binary-tensor extension), independent of the
/// HTTP library: the listener hands over method, path, body and a header lookup, and sends back the
/// ``OpenInferenceREST/Response``. Every route goes through the shared Open Inference core on ``InferenceAPI``
/// (admission, RBAC, routing, metrics, audit), so REST and gRPC answer alike; failures become the core's
/// ``ServiceError/httpStatus`` with a JSON body `{"error": "..."}`.
///
/// Routes: `GET /v2/health/live`, `GET /v2/health/ready`, `GET /v2`, and under `/v2/models/{name}` or
/// `/v2/models/{name}/versions/{v}`: `GET` (metadata), `GET .../ready`, `GET .../config`, `GET .../stats`,
/// `POST .../infer`.
public final class OpenInferenceREST: Sendable {
    /// One answer: status, content type, extra headers, body.
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var headers: [(String, String)]
        public var body: [UInt8]
    }

    let api: InferenceAPI
    private let health: HealthStatusTable?
    private let serverVersion: String

    /// Routes for `api`; `health` decides server readiness (nil: the registry's first load); `serverVersion` is
    /// what `GET /v2` reports.
    public init(api: InferenceAPI, health: HealthStatusTable?, serverVersion: String) {
        self.api = api
        self.health = health
        self.serverVersion = serverVersion
    }

    /// Answers one request. `header` looks a request header up by name (case-insensitive); `peer` is the
    /// client's address for the audit log.
    public func handle(
        method: String, path: String, body: [UInt8], peer: String, header: (String) -> String?
    ) -> Response {
        if let encoding = header("content-encoding"), encoding.lowercased() != "identity" {
            return Self.error(415, "Content-Encoding \(encoding) is not supported: send the body uncompressed")
        }
        var metadata = Metadata()
        if let authorization = header("authorization") { metadata.append(name: "authorization", value: authorization) }
        if let apiKey = header("x-api-key") { metadata.append(name: "x-api-key", value: apiKey) }
        if let requestID = header("x-request-id") { metadata.append(name: "x-request-id", value: requestID) }
        let context = CallContext(metadata: metadata, peer: peer)
        do {
            return try route(method: method, path: path, body: body, context: context, header: header)
        } catch {
            return Self.error(error.httpStatus, error.rpcError.message)
        }
    }

    // MARK: - Routing

    private func route(
        method: String, path: String, body: [UInt8], context: CallContext, header: (String) -> String?
    ) throws(ServiceError) -> Response {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard parts.first == "v2" else {
            throw ServiceError(.notFound, "no route \(path): the Open Inference Protocol routes start with /v2")
        }
        let rest = Array(parts.dropFirst())
        if rest.isEmpty || rest == [""] {
            try expect(method, "GET", path)
            let server = try api.openInferenceServerMetadata(context: context, version: serverVersion)
            var json = JSONWriter()
            json.object {
                $0.key("name"); $0.string(server.name)
                $0.key("version"); $0.string(server.version)
                $0.key("extensions"); $0.array(server.extensions) { $0.string($1) }
            }
            return Self.json(200, json.bytes)
        }
        if rest.count == 2 && rest[0] == "health" {
            try expect(method, "GET", path)
            switch rest[1] {
            case "live":
                let live = try api.openInferenceServerLive(context: context)
                return Self.flag(live ? 200 : 503, "live", live)
            case "ready":
                let ready = try api.openInferenceServerReady(context: context, health: health)
                return Self.flag(ready ? 200 : 503, "ready", ready)
            default:
                throw ServiceError(.notFound, "no route \(path): try /v2/health/live or /v2/health/ready")
            }
        }
        guard rest.count >= 2, rest[0] == "models", !rest[1].isEmpty else {
            throw ServiceError(.notFound, "no route \(path): see docs/rest.md for the /v2 routes")
        }
        let model = String(rest[1])
        var version = ""
        var tail = rest.dropFirst(2)
        if tail.first == "versions" {
            guard tail.count >= 2, !tail[tail.startIndex + 1].isEmpty else {
                throw ServiceError(.notFound, "no route \(path): expected /v2/models/{name}/versions/{version}")
            }
            version = String(tail[tail.startIndex + 1])
            tail = tail.dropFirst(2)
        }
        switch tail.first {
        case nil, "":
            try expect(method, "GET", path)
            return try metadata(model: model, version: version, context: context)
        case "ready" where tail.count == 1:
            try expect(method, "GET", path)
            let ready = try api.openInferenceModelReady(model: model, version: version, context: context)
            var json = JSONWriter()
            json.object {
                $0.key("name"); $0.string(model)
                $0.key("ready"); $0.bool(ready)
            }
            // Triton answers 400 for a model that is known but not ready; a client checks for 200.
            return Self.json(ready ? 200 : 400, json.bytes)
        case "config" where tail.count == 1:
            try expect(method, "GET", path)
            return try config(model: model, version: version, context: context)
        case "stats" where tail.count == 1:
            try expect(method, "GET", path)
            return try statistics(model: model, version: version, context: context)
        case "infer" where tail.count == 1:
            try expect(method, "POST", path)
            return try infer(model: model, version: version, body: body, context: context, header: header)
        default:
            throw ServiceError(
                .notFound, "no route \(path): after /v2/models/{name} come ready, config, stats or infer")
        }
    }

    private func expect(_ method: String, _ wanted: String, _ path: String) throws(ServiceError) {
        // HEAD is GET without a body (the listener drops the body).
        guard method == wanted || (wanted == "GET" && method == "HEAD") else {
            throw ServiceError(.unimplemented, "\(path) takes \(wanted), not \(method)")
        }
    }

    // MARK: - Metadata, config, statistics

    private func metadata(model: String, version: String, context: CallContext) throws(ServiceError) -> Response {
        let metadata = try api.openInferenceModelMetadata(model: model, version: version, context: context)
        var json = JSONWriter()
        json.object {
            $0.key("name"); $0.string(metadata.name)
            $0.key("versions"); $0.array(metadata.versions) { $0.string($1) }
            $0.key("platform"); $0.string(metadata.platform)
            $0.key("inputs"); $0.array(metadata.inputs) { Self.tensorSpec(&$0, $1) }
            $0.key("outputs"); $0.array(metadata.outputs) { Self.tensorSpec(&$0, $1) }
        }
        return Self.json(200, json.bytes)
    }

    private static func tensorSpec(_ json: inout JSONWriter, _ spec: OpenInference.TensorSpec) {
        json.object {
            $0.key("name"); $0.string(spec.name)
            $0.key("datatype"); $0.string(spec.datatype.name)
            $0.key("shape"); $0.array(spec.shape) { $0.integer($1) }
        }
    }

    private func config(model: String, version: String, context: CallContext) throws(ServiceError) -> Response {
        let config = try api.openInferenceModelConfig(model: model, version: version, context: context)
        var json = JSONWriter()
        json.object {
            $0.key("name"); $0.string(config.name)
            $0.key("platform"); $0.string(config.platform)
            $0.key("backend"); $0.string(config.backend)
            $0.key("max_batch_size"); $0.integer(Int64(config.maxBatchSize))
            $0.key("input"); $0.array(config.inputs) { Self.configTensor(&$0, $1) }
            $0.key("output"); $0.array(config.outputs) { Self.configTensor(&$0, $1) }
            $0.key("version_policy"); $0.object {
                $0.key("specific"); $0.object {
                    $0.key("versions"); $0.array(config.versions) { $0.integer($1) }
                }
            }
        }
        return Self.json(200, json.bytes)
    }

    private static func configTensor(_ json: inout JSONWriter, _ spec: OpenInference.TensorSpec) {
        json.object {
            $0.key("name"); $0.string(spec.name)
            $0.key("data_type"); $0.string(spec.datatype.configName)
            $0.key("dims"); $0.array(spec.shape) { $0.integer($1) }
        }
    }

    private func statistics(model: String, version: String, context: CallContext) throws(ServiceError) -> Response {
        let stats = try api.openInferenceStatistics(model: model, version: version, context: context)
        var json = JSONWriter()
        json.object {
            $0.key("model_stats"); $0.array(stats) { json, entry in
                json.object {
                    $0.key("name"); $0.string(entry.name)
                    $0.key("version"); $0.string(String(entry.version))
                    $0.key("last_inference"); $0.integer(Int64(entry.lastInferenceMs))
                    $0.key("inference_count"); $0.integer(Int64(entry.inferenceCount))
                    $0.key("execution_count"); $0.integer(Int64(entry.executionCount))
                    $0.key("inference_stats"); $0.object {
                        Self.duration(&$0, "success", entry.success)
                        Self.duration(&$0, "fail", entry.failure)
                        Self.duration(&$0, "queue", (0, 0))
                        Self.duration(&$0, "compute_input", entry.computeInput)
                        Self.duration(&$0, "compute_infer", entry.computeInfer)
                        Self.duration(&$0, "compute_output", entry.computeOutput)
                    }
                }
            }
        }
        return Self.json(200, json.bytes)
    }

    private static func duration(_ json: inout JSONWriter, _ name: String, _ value: (count: UInt64, nanos: UInt64)) {
        json.key(name)
        json.object {
            $0.key("count"); $0.integer(Int64(value.count))
            $0.key("ns"); $0.integer(Int64(value.nanos))
        }
    }

    // MARK: - Responses

    static func json(_ status: Int, _ body: [UInt8]) -> Response {
        Response(status: status, contentType: "application/json", headers: [], body: body)
    }

    static func flag(_ status: Int, _ name: String, _ value: Bool) -> Response {
        var json = JSONWriter()
        json.object {
            $0.key(name)
            $0.bool(value)
        }
        return Self.json(status, json.bytes)
    }

    /// `{"error": message}` with `status`.
    static func error(_ status: Int, _ message: String) -> Response {
        var json = JSONWriter()
        json.object { $0.key("error"); $0.string(message) }
        return Self.json(status, json.bytes)
    }
}
