internal import CMicroHTTPD

/// One complete HTTP/1.1 request, as the handler sees it on the listener's loop thread.
///
/// The header lookups read libmicrohttpd's parsed request in place, so a request is valid only during the
/// handler call that received it; copy what must outlive it.
public struct HTTPRequest: ~Copyable {
    /// The method as sent (`GET`, `POST`, ...).
    public let method: String
    /// The decoded path without the query string.
    public let path: String
    /// The request body (empty when none was sent).
    public let body: [UInt8]
    fileprivate let connection: OpaquePointer?

    /// A request read from `connection` (the library's handle; nil only in tests).
    init(method: String, path: String, body: [UInt8], connection: OpaquePointer?) {
        self.method = method
        self.path = path
        self.body = body
        self.connection = connection
    }

    /// The value of header `name` (case-insensitive), or nil when absent.
    public func header(_ name: String) -> String? {
        guard let connection,
            let value = MHD_lookup_connection_value(connection, .HEADER_KIND, name)
        else { return nil }
        return String(cString: value)
    }

    /// The client's address, `ip:port` or `[ip]:port` ("" when unknown).
    public var peer: String {
        guard let connection else { return "" }
        var buffer = [CChar](repeating: 0, count: 64)
        CMHD_peer_address(connection, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The value of query argument `name`, or nil when absent.
    public func query(_ name: String) -> String? {
        guard let connection,
            let value = MHD_lookup_connection_value(connection, .GET_ARGUMENT_KIND, name)
        else { return nil }
        return String(cString: value)
    }
}

/// What a handler answers: status, content type, extra headers and body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Closes the connection after this response (no keep-alive).
    public var closeConnection: Bool

    public init(
        status: Int, contentType: String = "text/plain; charset=utf-8", headers: [(String, String)] = [],
        body: [UInt8], closeConnection: Bool = false
    ) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
        self.closeConnection = closeConnection
    }

    /// A text response.
    public static func text(_ status: Int, _ text: String, closeConnection: Bool = false) -> HTTPResponse {
        HTTPResponse(status: status, body: Array(text.utf8), closeConnection: closeConnection)
    }
}

/// Limits and transport settings of one HTTP/1.1 listener.
public struct HTTPServerConfiguration: Sendable {
    /// Numeric IPv4 or IPv6 address to bind.
    public var host: String
    /// Port to bind (0 picks a free one).
    public var port: Int
    /// Largest accepted request body; a larger declared `Content-Length` gets 413, a larger chunked body a close.
    public var maxBodyBytes: Int
    /// Per-connection memory for the request line and headers; a request whose headers do not fit gets 431.
    public var maxHeaderBytes: Int
    /// Most open connections; further clients are refused at accept.
    public var maxConnections: Int
    /// A connection with no traffic for this long is closed (also bounds a client that trickles its request).
    public var idleTimeoutSeconds: Int
    /// PEM certificate chain and private key for HTTPS (GnuTLS inside libmicrohttpd); nil for cleartext.
    public var tls: (certificatePEM: String, keyPEM: String)?
    /// The name of the listener's thread (shows in `top -H`).
    public var threadName: String

    public init(
        host: String, port: Int, maxBodyBytes: Int = 4 << 20, maxHeaderBytes: Int = 16_384,
        maxConnections: Int = 1024, idleTimeoutSeconds: Int = 30,
        tls: (certificatePEM: String, keyPEM: String)? = nil, threadName: String = "sluice-http"
    ) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxConnections = maxConnections
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.tls = tls
        self.threadName = threadName
    }
}
