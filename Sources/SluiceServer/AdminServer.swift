import HTTPServer

/// The admin listener: HTTP/1.1 on its own thread (libmicrohttpd driven by a NetCore loop, as the REST port),
/// off the serving path.
///
/// `GET /metrics` (Prometheus text format 0.0.4), `GET /healthz` (the process is up), `GET /readyz`
/// (200 once models are loaded, 503 before and while draining). Requests are bounded (8 KiB of headers, no
/// body, 5 s of inactivity, 64 connections) so a stuck client cannot hold the listener.
public final class AdminServer: @unchecked Sendable {
    /// What the admin endpoints answer with; each closure is called on the admin thread, once per request.
    public struct Handlers: Sendable {
        /// The whole `/metrics` body in Prometheus text format, rendered per scrape.
        public var metrics: @Sendable () -> String
        /// Whether `/readyz` answers 200 (true) or 503 (false).
        public var ready: @Sendable () -> Bool
        /// Appended to `/healthz` and `/readyz` bodies (e.g. that authentication is disabled).
        public var details: String
        /// Lines computed per request and appended to `/healthz` and `/readyz` (e.g. versions that failed to load).
        public var report: @Sendable () -> [String]
        /// When set, `/metrics` asks it first with the `Authorization` and `x-api-key` headers; a non-nil answer
        /// (HTTP status and message) refuses the scrape.
        public var metricsGate: (@Sendable (_ authorization: String?, _ apiKey: String?) -> (Int, String)?)?

        /// Handlers with no extra health detail, no report lines and an open `/metrics` unless a gate is given.
        public init(
            metrics: @escaping @Sendable () -> String, ready: @escaping @Sendable () -> Bool, details: String = "",
            report: @escaping @Sendable () -> [String] = { [] },
            metricsGate: (@Sendable (_ authorization: String?, _ apiKey: String?) -> (Int, String)?)? = nil
        ) {
            self.metrics = metrics
            self.ready = ready
            self.details = details
            self.report = report
            self.metricsGate = metricsGate
        }
    }

    /// Why the listener could not start.
    public struct StartError: Error, CustomStringConvertible {
        /// Names the address and the underlying error, e.g. `admin listener: cannot listen on HOST:PORT: ...`.
        public let description: String
    }

    private let handlers: Handlers
    /// The running HTTP listener; nil before `start` and after it is stopped.
    private var server: HTTPServer?
    /// The bound port, known after `start` (useful when 0 asked for a free one).
    public private(set) var port: UInt16 = 0

    /// An admin server that does nothing until `start(host:port:)`.
    public init(handlers: Handlers) { self.handlers = handlers }

    /// Binds `host:port` (port 0 picks a free one) and starts serving on a background thread.
    public func start(host: String, port: UInt16) throws {
        let address = host == "localhost" ? "127.0.0.1" : host
        let handlers = self.handlers
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(
                host: address, port: Int(port), maxBodyBytes: 0, maxHeaderBytes: 8192, maxConnections: 64,
                idleTimeoutSeconds: 5, threadName: "sluice-admin"),
            handler: { request in Self.answer(request, handlers: handlers) })
        do { try server.start() } catch {
            throw StartError(description: "admin listener: cannot listen on \(host):\(port): \(error)")
        }
        self.server = server
        self.port = UInt16(server.port)
    }

    /// Stops accepting and closes the listener.
    public func stop() {
        server?.stop()
        server = nil
    }

    /// The response to one admin request (on the listener's thread).
    private static func answer(_ request: borrowing HTTPRequest, handlers: Handlers) -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else {
            return .text(405, "only GET\n")
        }
        // HEAD: libmicrohttpd sends the headers of the GET response (with its Content-Length) and no body.
        let response: HTTPResponse
        switch request.path {
        case "/metrics":
            if let gate = handlers.metricsGate,
                let (status, message) = gate(request.header("Authorization"), request.header("x-api-key"))
            {
                response = .text(status, message + "\n")
            } else {
                response = HTTPResponse(
                    status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
                    body: Array(handlers.metrics().utf8))
            }
        case "/healthz":
            response = .text(200, "ok\n" + detailLines(handlers))
        case "/readyz":
            response = handlers.ready()
                ? .text(200, "ready\n" + detailLines(handlers)) : .text(503, "not ready\n" + detailLines(handlers))
        default:
            response = .text(404, "not found: try /metrics, /healthz, /readyz\n")
        }
        return response
    }

    private static func detailLines(_ handlers: Handlers) -> String {
        (handlers.details.isEmpty ? "" : handlers.details + "\n") + handlers.report().map { $0 + "\n" }.joined()
    }
}
