internal import CCurlShims
import Synchronization

/// A blocking HTTP/1.1 + HTTPS client on libcurl, for background threads (model sources), never the event loop.
///
/// One client holds one curl easy handle, so consecutive requests to the same host reuse the connection.
/// libcurl is loaded when the first client is made (see `CCurlShims`), so a process that never makes one never
/// maps it; if it cannot be loaded, every request fails with an ``HTTPClientError`` that says why.
/// Requests on one client are serialized by a lock; use one client per background thread for parallelism.
public final class HTTPClient: Sendable {
    /// libcurl's handle; only touched under `lock`.
    private let handle: Mutex<Handle>
    /// PEM CA bundle for HTTPS, or nil for the system trust store.
    public let caFile: String?

    /// Owns the curl easy handle, or says why there is none.
    private final class Handle: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer?
        /// Why libcurl could not be loaded, when it could not.
        let loadFailure: String?
        init() {
            if let failure = CCurlShims_load() {
                loadFailure = String(cString: failure)
                pointer = nil
            } else {
                loadFailure = nil
                pointer = CCurlShims_easy_init()
            }
        }
        deinit { CCurlShims_easy_cleanup(pointer) }
    }

    public init(caFile: String? = nil) {
        self.caFile = caFile
        self.handle = Mutex(Handle())
    }

    /// Performs `request` and returns the response, whatever its status; throws only when no response came
    /// (connection refused, timeout, TLS failure, response larger than `request.maxResponseBytes`).
    public func perform(_ request: HTTPRequest) throws(HTTPClientError) -> HTTPResponse {
        try handle.withLock { (handle: inout Handle) throws(HTTPClientError) -> HTTPResponse in
            guard let curl = handle.pointer else {
                throw HTTPClientError(
                    url: request.url, message: handle.loadFailure ?? "libcurl could not create a handle")
            }
            return try Self.run(request, on: curl, caFile: caFile)
        }
    }

    /// Builds curl's header list, runs the transfer through the C shim (the write callback appends to a
    /// ``BodySink`` passed as an unretained context pointer) and maps curl's result to a response or an error.
    private static func run(_ request: HTTPRequest, on curl: UnsafeMutableRawPointer, caFile: String?)
        throws(HTTPClientError) -> HTTPResponse
    {
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in request.headers {
            guard let appended = CCurlShims_slist_append(headerList, "\(name): \(value)") else {
                CCurlShims_slist_free_all(headerList)
                throw HTTPClientError(url: request.url, message: "out of memory building headers")
            }
            headerList = appended
        }
        // An explicit empty Expect stops curl from waiting for `100 Continue` on larger bodies.
        headerList = CCurlShims_slist_append(headerList, "Expect:") ?? headerList
        defer { CCurlShims_slist_free_all(headerList) }

        let sink = BodySink(limit: request.maxResponseBytes)
        let context = Unmanaged.passRetained(sink)
        defer { context.release() }
        var status = 0
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = request.method.withCString { method in
            request.url.withCString { url in
                withOptionalCString(caFile) { ca in
                    request.body.withUnsafeBytes { body in
                        var settings = CCurlShims_request(
                            method: method, url: url, headers: headerList,
                            body: request.body.isEmpty ? nil : body.baseAddress,
                            body_length: body.count, ca_file: ca,
                            connect_timeout_ms: Int(request.connectTimeoutMillis),
                            timeout_ms: Int(request.timeoutMillis),
                            write: { data, size, count, context in
                                guard let data, let context else { return 0 }
                                let sink = Unmanaged<BodySink>.fromOpaque(context).takeUnretainedValue()
                                return sink.append(UnsafeRawBufferPointer(start: data, count: size * count))
                                    ? size * count : 0
                            },
                            write_context: context.toOpaque())
                        return errorBuffer.withUnsafeMutableBufferPointer { error in
                            CCurlShims_perform(curl, &settings, &status, error.baseAddress!)
                        }
                    }
                }
            }
        }
        guard code == CURLE_OK else {
            if sink.overflowed {
                throw HTTPClientError(
                    url: request.url, message: "response is larger than \(request.maxResponseBytes) bytes")
            }
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let text = detail.isEmpty ? String(cString: CCurlShims_easy_strerror(code)) : detail
            throw HTTPClientError(url: request.url, message: text)
        }
        return HTTPResponse(status: status, body: sink.bytes)
    }
}

/// Collects a response body up to a limit (the write callback's context).
private final class BodySink {
    var bytes: [UInt8] = []
    let limit: Int
    var overflowed = false
    init(limit: Int) { self.limit = limit }

    func append(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count + chunk.count <= limit else {
            overflowed = true
            return false
        }
        bytes.append(contentsOf: chunk)
        return true
    }
}

private func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}

/// One HTTP request.
public struct HTTPRequest: Sendable, Equatable {
    /// `GET`, `POST`, `DELETE`, `PATCH`.
    public var method: String
    /// `http://…` or `https://…` (other protocols are refused by the shim).
    public var url: String
    /// Header name/value pairs in order.
    public var headers: [(String, String)]
    /// Sent when not empty (with the caller's `Content-Type`).
    public var body: [UInt8]
    /// Longest wait for the TCP (and TLS) connection.
    public var connectTimeoutMillis: Int64
    /// Longest time for the whole transfer.
    public var timeoutMillis: Int64
    /// Larger responses fail the request instead of filling memory.
    public var maxResponseBytes: Int

    public init(
        method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8] = [],
        connectTimeoutMillis: Int64 = 2_000, timeoutMillis: Int64 = 10_000, maxResponseBytes: Int = 64 << 20
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeoutMillis = connectTimeoutMillis
        self.timeoutMillis = timeoutMillis
        self.maxResponseBytes = maxResponseBytes
    }

    /// The value of the first header called `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.0.lowercased() == lowered }?.1
    }

    public static func == (lhs: HTTPRequest, rhs: HTTPRequest) -> Bool {
        lhs.method == rhs.method && lhs.url == rhs.url && lhs.headers.map(\.0) == rhs.headers.map(\.0)
            && lhs.headers.map(\.1) == rhs.headers.map(\.1) && lhs.body == rhs.body
            && lhs.connectTimeoutMillis == rhs.connectTimeoutMillis && lhs.timeoutMillis == rhs.timeoutMillis
            && lhs.maxResponseBytes == rhs.maxResponseBytes
    }
}

/// A response: status and body (headers are not needed by the callers).
public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]

    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }
}

/// No response arrived: the server is unreachable, timed out, or TLS failed.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public let url: String
    public let message: String
    public var description: String { "\(url): \(message)" }
}
