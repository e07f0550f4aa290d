import BackgroundThreads
public import GRPCCore
import HTTP2
public import TLS

#if canImport(Glibc)
    import Glibc
#endif

/// A small blocking gRPC client for unary calls (the `sluice rollout` command): one connection per call, TCP
/// (cleartext HTTP/2) or TLS with ALPN `h2`, HTTP/2 framing by libnghttp2 (through ``HTTP2ClientSession``).
///
/// ```swift
/// let client = GRPCClient(host: "127.0.0.1", port: 50051, tls: nil, metadata: [("x-api-key", key)])
/// let reply = try client.unary(path: "/sluice.v1.Inference/Rollout", request: bytes)
/// ```
/// Failures are ``RPCError``s: the server's status, or `UNAVAILABLE` when the server cannot be reached (with
/// the reason), `DEADLINE_EXCEEDED` when it does not answer within the timeout.
public struct GRPCClient: Sendable {
    /// A host name or an IP address (IPv6 without brackets); resolved again on every call.
    public let host: String
    public let port: UInt16
    /// `nil`: cleartext HTTP/2 (h2c with prior knowledge).
    public let tls: TLSClientContext?
    /// The name the server's certificate must carry (default: `host`).
    public let serverName: String
    /// Extra request headers (credentials: `authorization`, `x-api-key`).
    public let metadata: [(name: String, value: String)]
    /// Seconds for connecting and for the whole answer.
    public let timeoutSeconds: Double

    public init(
        host: String, port: UInt16, tls: TLSClientContext?, serverName: String? = nil,
        metadata: [(name: String, value: String)] = [], timeoutSeconds: Double = 10
    ) {
        self.host = host
        self.port = port
        self.tls = tls
        self.serverName = serverName ?? host
        self.metadata = metadata
        self.timeoutSeconds = timeoutSeconds
    }

    /// `host:port` as written in messages (IPv6 in brackets).
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Calls the unary method `path` (`/package.Service/Method`) with one serialized request message and returns
    /// the serialized response message. Throws ``RPCError`` only.
    ///
    /// Blocks the calling thread for at most about `timeoutSeconds` per socket operation, and gives up with
    /// DEADLINE_EXCEEDED once `timeoutSeconds` have passed since the request was queued. The request carries a
    /// `grpc-timeout` of the same length.
    public func unary(path: String, request: [UInt8]) throws -> [UInt8] {
        let connection = try Connection(host: host, port: port, timeoutSeconds: timeoutSeconds)
        defer { connection.close() }
        let stream: TLSClientStream?
        if let tls {
            do { stream = try TLSClientStream(context: tls, fd: connection.fd, serverName: serverName) } catch {
                throw RPCError(.unavailable, "\(address): \(error.message)")
            }
        } else {
            stream = nil
        }
        defer { stream?.close() }
        let transport = Transport(fd: connection.fd, tls: stream, address: address)

        var framed: [UInt8] = [0]
        let length = UInt32(request.count)
        framed += [
            UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff),
        ]
        framed += request
        var headers: [(name: String, value: String)] = [
            (":method", "POST"), (":scheme", tls == nil ? "http" : "https"), (":path", path),
            (":authority", address), ("content-type", "application/grpc"), ("te", "trailers"),
            ("user-agent", "sluice-rollout"),
            ("grpc-timeout", "\(max(1, Int(timeoutSeconds * 1000)))m"),
        ]
        headers += metadata.map { ($0.name.lowercased(), $0.value) }

        let session: HTTP2ClientSession
        let id: Int32
        do {
            session = try HTTP2ClientSession()
            id = try session.submitRequest(headers: headers, body: framed)
        } catch {
            throw RPCError(.internal, "cannot make the HTTP/2 request: \(error)")
        }
        var buffer = [UInt8](repeating: 0, count: 16_384)
        let deadline = monotonicNanos() &+ UInt64(max(0, timeoutSeconds) * 1e9)
        while true {
            if monotonicNanos() > deadline {
                throw RPCError(.deadlineExceeded, "\(address) did not answer within \(timeoutSeconds) s")
            }
            do {
                let output = try session.pendingOutput()
                if !output.isEmpty { try transport.write(output) }
            } catch let error as RPCError {
                throw error
            } catch {
                throw RPCError(.unavailable, "\(address): HTTP/2 error: \(error)")
            }
            if let response = session.response(id) {
                if response.closed { return try Self.result(response, address: address) }
                guard response.body.count <= Self.maxResponseBytes else {
                    throw RPCError(
                        .resourceExhausted,
                        "\(address) sent more than \(Self.maxResponseBytes) bytes; not a Rollout answer")
                }
            }
            let count = try buffer.withUnsafeMutableBytes { raw in try transport.read(into: raw) }
            if count == 0 {
                throw RPCError(.unavailable, "\(address) closed the connection before answering")
            }
            do {
                try buffer.withUnsafeBytes { raw in
                    try session.receive(UnsafeRawBufferPointer(rebasing: raw[0..<count]))
                }
            } catch {
                throw RPCError(.unavailable, "\(address): HTTP/2 error: \(error)")
            }
        }
    }

    /// The largest answer accepted (a status with a long history is a few hundred KiB).
    static let maxResponseBytes = 16 << 20

    /// The response message, or the status the server sent.
    ///
    /// A reset stream without a status is UNAVAILABLE (worth retrying); an answer without `grpc-status` is UNKNOWN;
    /// an OK status without a whole, uncompressed message is INTERNAL.
    static func result(_ response: HTTP2ClientSession.Response, address: String) throws(RPCError) -> [UInt8] {
        let fields = response.headers + response.trailers
        func field(_ name: String) -> String? { fields.first(where: { $0.name == name })?.value }
        guard let statusText = field("grpc-status") else {
            if response.errorCode != 0 {
                throw RPCError(.unavailable, "\(address) reset the call (HTTP/2 error code \(response.errorCode))")
            }
            let status = field(":status") ?? "none"
            throw RPCError(.unknown, "\(address) answered without a gRPC status (HTTP status \(status))")
        }
        guard let number = Int(statusText), let code = StatusCode(rawValue: number) else {
            throw RPCError(.unknown, "\(address) sent an unknown grpc-status \(statusText)")
        }
        guard code == .ok else {
            throw RPCError(code, PercentEncoding.decode(field("grpc-message") ?? ""))
        }
        let body = response.body
        guard body.count >= 5 else { throw RPCError(.internal, "\(address) answered OK without a message") }
        guard body[0] == 0 else {
            throw RPCError(.internal, "\(address) sent a compressed message; none was asked for")
        }
        let length = Int(body[1]) << 24 | Int(body[2]) << 16 | Int(body[3]) << 8 | Int(body[4])
        guard body.count >= 5 + length else { throw RPCError(.internal, "\(address) sent a truncated message") }
        return Array(body[5..<(5 + length)])
    }

    /// Every address `name` resolves to (IPv4 and IPv6, in the resolver's order, without repeats); `name` itself
    /// when it is already an address. For `--replicas NAME:PORT` (a Kubernetes headless Service).
    public static func resolve(_ name: String) throws(RPCError) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(name, nil, &hints, &list)
        guard rc == 0, let list else {
            throw RPCError(.unavailable, "cannot resolve \(name): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var out: [String] = []
        var node: UnsafeMutablePointer<addrinfo>? = list
        while let entry = node {
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(
                entry.pointee.ai_addr, entry.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST)
                == 0
            {
                let address = String(
                    decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !out.contains(address) { out.append(address) }
            }
            node = entry.pointee.ai_next
        }
        return out
    }
}

/// A connected TCP socket with send and receive timeouts.
struct Connection {
    /// The socket descriptor; owned by this value until ``close()``.
    let fd: Int32

    /// Resolves `host` and connects to the first address that accepts, in the resolver's order, with `TCP_NODELAY` and
    /// `timeoutSeconds` as the socket's send and receive timeouts (so a silent server surfaces as a timed-out read).
    ///
    /// - Throws: UNAVAILABLE naming the host when it does not resolve, or the last address's `connect` error.
    init(host: String, port: UInt16, timeoutSeconds: Double) throws(RPCError) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let shown = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let list else {
            throw RPCError(.unavailable, "cannot resolve \(host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(list) }
        var timeout = timeval(
            tv_sec: Int(timeoutSeconds), tv_usec: Int((timeoutSeconds - Double(Int(timeoutSeconds))) * 1e6))
        var reason = "no address"
        var node: UnsafeMutablePointer<addrinfo>? = list
        while let entry = node {
            node = entry.pointee.ai_next
            let fd = socket(entry.pointee.ai_family, entry.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if connect(fd, entry.pointee.ai_addr, entry.pointee.ai_addrlen) == 0 {
                self.fd = fd
                return
            }
            reason = String(cString: strerror(errno))
            Glibc.close(fd)
        }
        throw RPCError(.unavailable, "cannot connect to \(shown): \(reason)")
    }

    /// Closes the socket; call once, after the TLS stream (if any) is closed.
    func close() { Glibc.close(fd) }
}

/// Reads and writes the connection, through TLS when there is a session.
struct Transport {
    /// The connected socket, used directly only when `tls` is `nil`.
    let fd: Int32
    /// The TLS session over `fd`; `nil` for cleartext HTTP/2.
    let tls: TLSClientStream?
    /// `host:port` for error messages.
    let address: String

    /// Writes all of `bytes` (without SIGPIPE on a closed peer).
    ///
    /// - Throws: UNAVAILABLE when the connection fails, DEADLINE_EXCEEDED when the send timeout passes.
    func write(_ bytes: [UInt8]) throws(RPCError) {
        if let tls {
            do { try bytes.withUnsafeBytes { raw in try tls.write(raw) } } catch {
                throw RPCError(.unavailable, "\(address): \(error)")
            }
            return
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.failure(address, "send")
            }
            offset += n
        }
    }

    /// Reads what is available, blocking up to the receive timeout; returns 0 when the peer closed the connection.
    ///
    /// - Throws: DEADLINE_EXCEEDED when the receive timeout passes, UNAVAILABLE for any other failure.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(RPCError) -> Int {
        if let tls {
            do { return try tls.read(into: buffer) } catch {
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw RPCError(.deadlineExceeded, "\(address) did not answer in time")
                }
                throw RPCError(.unavailable, "\(address): \(error.message)")
            }
        }
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw Self.failure(address, "receive")
        }
    }

    /// The status for a failed socket call, read from `errno`: a timeout (`EAGAIN`) is DEADLINE_EXCEEDED, anything
    /// else UNAVAILABLE with the system's reason.
    static func failure(_ address: String, _ what: String) -> RPCError {
        if errno == EAGAIN || errno == EWOULDBLOCK {
            return RPCError(.deadlineExceeded, "\(address) did not answer in time")
        }
        return RPCError(.unavailable, "\(address): \(what) failed: \(String(cString: strerror(errno)))")
    }
}
