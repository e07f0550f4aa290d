public import HTTPClient
import TextFormats

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where an MLflow tracking server is and how to authenticate to it, the way MLflow's own clients take it.
///
/// The URL is `mlflow+http://HOST:PORT[/PREFIX]` or `mlflow+https://…`. Credentials come from the environment:
/// `MLFLOW_TRACKING_TOKEN` (sent as `Authorization: Bearer …`), else `MLFLOW_TRACKING_USERNAME` and
/// `MLFLOW_TRACKING_PASSWORD` (HTTP basic). The CA for `https` is `caFile`, else `MLFLOW_TRACKING_SERVER_CERT_PATH`.
public struct MLflowEndpoint: Sendable, Equatable {
    /// `http://HOST:PORT[/PREFIX]` without a trailing slash.
    public let baseURL: String
    /// The `Authorization` header value, if credentials were given.
    public let authorization: String?
    /// PEM CA bundle for HTTPS.
    public let caFile: String?

    /// True when `text` names an MLflow registry (`mlflow+http://` or `mlflow+https://`).
    public static func isMLflowURL(_ text: String) -> Bool {
        text.hasPrefix("mlflow+http://") || text.hasPrefix("mlflow+https://")
    }

    /// Parses `mlflow+http(s)://HOST:PORT[/PREFIX]` and reads credentials from `environment`.
    public init(url: String, caFile: String? = nil, environment: [String: String]) throws(RegistryError) {
        guard Self.isMLflowURL(url) else {
            throw RegistryError(
                .invalidArgument,
                "\"\(url)\" is not an MLflow registry URL; use mlflow+http://HOST:PORT or mlflow+https://HOST:PORT")
        }
        var base = String(url.dropFirst("mlflow+".count))
        while base.hasSuffix("/") { base.removeLast() }
        let afterScheme = base.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        guard afterScheme.count >= 3, !afterScheme[2].isEmpty, !base.contains("?"), !base.contains("#") else {
            throw RegistryError(.invalidArgument, "\"\(url)\" has no host; use mlflow+http://HOST:PORT")
        }
        guard !afterScheme[2].contains("@") else {
            throw RegistryError(
                .invalidArgument,
                "\"\(url)\" carries credentials; pass them as MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN instead (they would show in logs)"
            )
        }
        self.baseURL = base
        if let token = environment["MLFLOW_TRACKING_TOKEN"], !token.isEmpty {
            authorization = "Bearer \(token)"
        } else if let user = environment["MLFLOW_TRACKING_USERNAME"], !user.isEmpty {
            let password = environment["MLFLOW_TRACKING_PASSWORD"] ?? ""
            authorization = "Basic \(Self.base64(Array("\(user):\(password)".utf8)))"
        } else {
            authorization = nil
        }
        let ca = caFile ?? environment["MLFLOW_TRACKING_SERVER_CERT_PATH"]
        self.caFile = ca.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A request for `path` (starting with `/api/…`) with the query items percent-encoded and, when `json`
    /// is given, a JSON body. Carries the credentials.
    public func request(
        _ method: String, _ path: String, query: [(String, String)] = [], json: [String: JSONScalar]? = nil,
        timeoutMillis: Int64 = 10_000, maxResponseBytes: Int = 64 << 20
    ) -> HTTPRequest {
        var url = baseURL + path
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        var headers: [(String, String)] = [("Accept", "application/json"), ("User-Agent", "sluice")]
        if let authorization { headers.append(("Authorization", authorization)) }
        var body: [UInt8] = []
        if let json {
            headers.append(("Content-Type", "application/json"))
            body = Self.jsonObject(json)
        }
        return HTTPRequest(
            method: method, url: url, headers: headers, body: body, timeoutMillis: timeoutMillis,
            maxResponseBytes: maxResponseBytes)
    }

    /// RFC 3986 percent-encoding of everything but unreserved characters (query values, path segments).
    static func percentEncode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            let unreserved =
                (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                || byte == 45 || byte == 46 || byte == 95 || byte == 126 || (keepSlash && byte == 47)
            if unreserved {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let digits = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(digits[Int(byte >> 4)])
                out.unicodeScalars.append(digits[Int(byte & 15)])
            }
        }
        return out
    }

    /// A JSON value of a request body field.
    public enum JSONScalar: Sendable, Equatable {
        /// Written as a JSON string literal, escaped.
        case string(String)
        /// Written as `true` or `false`.
        case bool(Bool)
    }

    /// A flat JSON object, keys sorted.
    static func jsonObject(_ fields: [String: JSONScalar]) -> [UInt8] {
        var out = "{"
        for (index, key) in fields.keys.sorted().enumerated() {
            if index > 0 { out += "," }
            out += quoted(key) + ":"
            switch fields[key]! {
            case .string(let text): out += quoted(text)
            case .bool(let flag): out += flag ? "true" : "false"
            }
        }
        return Array((out + "}").utf8)
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String { JSONText.quoted(text) }

    /// Standard base64 with padding (HTTP basic credentials).
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".unicodeScalars)
        var out = ""
        var index = 0
        while index < bytes.count {
            let chunk = Array(bytes[index..<min(index + 3, bytes.count)])
            let value =
                (UInt32(chunk[0]) << 16) | (chunk.count > 1 ? UInt32(chunk[1]) << 8 : 0)
                | (chunk.count > 2 ? UInt32(chunk[2]) : 0)
            for position in 0..<4 {
                if position <= chunk.count {
                    out.unicodeScalars.append(alphabet[Int((value >> (18 - 6 * UInt32(position))) & 63)])
                } else {
                    out.unicodeScalars.append("=")
                }
            }
            index += 3
        }
        return out
    }
}

/// Performs MLflow REST calls and turns failures into registry errors.
struct MLflowClient: Sendable {
    /// Where requests go and the credentials they carry.
    let endpoint: MLflowEndpoint
    /// One libcurl handle: requests are serialized and reuse the connection.
    let http: HTTPClient

    /// Opens the libcurl handle, trusting `endpoint.caFile` for TLS when set. Does not contact the server yet.
    init(endpoint: MLflowEndpoint) {
        self.endpoint = endpoint
        self.http = HTTPClient(caFile: endpoint.caFile)
    }

    /// Sends `request`; returns the body of a 2xx response. No response at all is `.unavailable` (retry);
    /// 401/403 name the credential variables; MLflow's own error JSON supplies the message otherwise.
    func send(_ request: HTTPRequest) throws(RegistryError) -> [UInt8] {
        let response: HTTPResponse
        do { response = try http.perform(request) } catch {
            throw RegistryError(.unavailable, "MLflow at \(endpoint.baseURL) is unreachable: \(error.message)")
        }
        switch response.status {
        case 200..<300:
            return response.body
        case 401, 403:
            throw RegistryError(
                .failedPrecondition,
                "MLflow at \(endpoint.baseURL) refused the credentials (HTTP \(response.status)); set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD"
            )
        default:
            let error = try? JSONDecoder().decode(MLflowErrorBody.self, from: Data(response.body))
            let message = error?.message ?? String(decoding: response.body.prefix(300), as: UTF8.self)
            let code: RegistryError.Code =
                error?.errorCode == "RESOURCE_DOES_NOT_EXIST" || response.status == 404
                ? .notFound : response.status >= 500 ? .unavailable : .failedPrecondition
            throw RegistryError(
                code, "MLflow \(request.method) \(Self.path(of: request.url)): HTTP \(response.status): \(message)")
        }
    }

    /// Sends `request` and decodes its JSON response.
    func json<T: Decodable>(_ type: T.Type, _ request: HTTPRequest) throws(RegistryError) -> T {
        let body = try send(request)
        do { return try JSONDecoder().decode(T.self, from: Data(body)) } catch {
            throw RegistryError(
                .io, "MLflow \(Self.path(of: request.url)) answered with unexpected JSON: \(error)")
        }
    }

    /// The `/api/…` part of a URL without its query (error messages name the endpoint, not the whole URL).
    private static func path(of url: String) -> String {
        let parts = url.split(separator: "/api/", maxSplits: 1)
        guard parts.count == 2 else { return url }
        return "/api/" + String(parts[1].prefix { $0 != "?" })
    }
}

/// `{"error_code": "...", "message": "..."}`.
struct MLflowErrorBody: Decodable {
    /// MLflow's machine-readable code, e.g. `RESOURCE_DOES_NOT_EXIST` (mapped to `.notFound`).
    var errorCode: String?
    /// The human-readable explanation, passed through into the `RegistryError` message.
    var message: String?
    enum CodingKeys: String, CodingKey {
        case errorCode = "error_code"
        case message
    }
}
