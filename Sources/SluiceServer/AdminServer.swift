#if canImport(Glibc)
import Glibc
#endif
import BackgroundThreads

/// The admin listener: HTTP/1.1 on its own thread, off the serving path.
///
/// `GET /metrics` (Prometheus text format 0.0.4), `GET /healthz` (the process is up), `GET /readyz`
/// (200 once models are loaded, 503 before and while draining). One request per connection; requests
/// over 8 KiB or slower than 2 s are dropped so a stuck client cannot hold the thread.
public final class AdminServer: @unchecked Sendable {
    public struct Handlers: Sendable {
        public var metrics: @Sendable () -> String
        public var ready: @Sendable () -> Bool
        /// Appended to `/healthz` and `/readyz` bodies (e.g. that authentication is disabled).
        public var details: String
        /// A line computed per request (the model source's state), appended after `details` when not empty.
        public var liveDetails: @Sendable () -> String

        public init(
            metrics: @escaping @Sendable () -> String, ready: @escaping @Sendable () -> Bool, details: String = "",
            liveDetails: @escaping @Sendable () -> String = { "" }
        ) {
            self.metrics = metrics
            self.ready = ready
            self.details = details
            self.liveDetails = liveDetails
        }
    }

    /// Why the listener could not start.
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    private let handlers: Handlers
    private var listener: Int32 = -1
    private var thread: BackgroundThread.Handle?
    public private(set) var port: UInt16 = 0

    public init(handlers: Handlers) { self.handlers = handlers }

    /// Binds `host:port` (port 0 picks a free one) and starts serving on a background thread.
    public func start(host: String, port: UInt16) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            throw StartError(description: "--admin-listen: \(host) is not an IPv4 address")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw StartError(description: "admin listener: socket() failed") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw StartError(description: "admin listener: cannot listen on \(host):\(port): \(reason)")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = UInt16(bigEndian: actual.sin_port)
        listener = fd
        guard let started = BackgroundThread.start(name: "sluice-admin", { self.acceptLoop() }) else {
            close(fd)
            throw StartError(description: "admin listener: cannot start its thread")
        }
        thread = started
    }

    /// Stops accepting and closes the listener.
    public func stop() {
        if listener >= 0 {
            shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
            listener = -1
        }
        thread?.join()
        thread = nil
    }

    private func acceptLoop() {
        while true {
            let fd = listener
            if fd < 0 { return }
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            serve(client)
            close(client)
        }
    }

    private func serve(_ client: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while request.count < 8192 {
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            request += chunk[0..<n]
            if request.count >= 4, request.suffix(4) == [13, 10, 13, 10] || containsHeaderEnd(request) { break }
        }
        guard let lineEnd = request.firstIndex(of: 13) ?? request.firstIndex(of: 10) else { return }
        let line = String(decoding: request[..<lineEnd], as: UTF8.self).split(separator: " ")
        guard line.count >= 2 else { return respond(client, 400, "text/plain", "bad request\n") }
        let method = line[0]
        let path = line[1].split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        guard method == "GET" || method == "HEAD" else {
            return respond(client, 405, "text/plain", "only GET\n", head: false)
        }
        let head = method == "HEAD"
        switch path {
        case "/metrics":
            respond(client, 200, "text/plain; version=0.0.4; charset=utf-8", handlers.metrics(), head: head)
        case "/healthz":
            respond(client, 200, "text/plain", "ok\n" + detailLine, head: head)
        case "/readyz":
            if handlers.ready() {
                respond(client, 200, "text/plain", "ready\n" + detailLine, head: head)
            } else {
                respond(client, 503, "text/plain", "not ready\n" + detailLine, head: head)
            }
        default:
            respond(client, 404, "text/plain", "not found: try /metrics, /healthz, /readyz\n", head: head)
        }
    }

    private var detailLine: String {
        let live = handlers.liveDetails()
        return (handlers.details.isEmpty ? "" : handlers.details + "\n") + (live.isEmpty ? "" : live + "\n")
    }

    private func containsHeaderEnd(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10
            && bytes[index + 2] == 13 && bytes[index + 3] == 10
        {
            return true
        }
        return false
    }

    private func respond(_ client: Int32, _ status: Int, _ type: String, _ body: String, head: Bool = false) {
        let reason = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
                      503: "Service Unavailable"][status] ?? "Error"
        let bodyBytes = Array(body.utf8)
        var out = Array(
            "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(bodyBytes.count)\r\nConnection: close\r\n\r\n"
                .utf8)
        if !head { out += bodyBytes }
        var sent = 0
        while sent < out.count {
            let n = out.withUnsafeBytes { send(client, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }
}
