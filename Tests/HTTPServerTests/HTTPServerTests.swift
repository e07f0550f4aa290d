import HTTPServer
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Sends `request` to 127.0.0.1:`port` over a fresh blocking socket and returns everything until the server closes
/// (or 5 s pass).
private func exchange(port: Int, _ request: String) -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return "" }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let bytes = Array(request.utf8)
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count <= 0 { break }
        received += buffer[0..<count]
    }
    return String(decoding: received, as: UTF8.self)
}

/// A listener whose handler echoes method, path, a header and the body size.
private func echoServer(maxBodyBytes: Int = 1024) throws -> HTTPServer {
    let server = HTTPServer(
        configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: maxBodyBytes, idleTimeoutSeconds: 5),
        handler: { request in
            .text(200, "\(request.method) \(request.path) \(request.header("x-test") ?? "-") \(request.body.count)\n")
        })
    try server.start()
    return server
}

@Suite("HTTPServer")
struct HTTPServerTests {
    @Test("answers a request on the loop thread, with keep-alive by default")
    func answers() throws {
        let server = try echoServer()
        defer { server.stop() }
        let answer = exchange(
            port: server.port,
            "POST /a/b?x=1 HTTP/1.1\r\nHost: t\r\nX-Test: yes\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        #expect(answer.hasPrefix("HTTP/1.1 200"))
        #expect(answer.hasSuffix("POST /a/b yes 5\n"))
    }

    @Test("pipelined requests are answered in order")
    func pipelined() throws {
        let server = try echoServer()
        defer { server.stop() }
        let answer = exchange(
            port: server.port,
            "GET /one HTTP/1.1\r\nHost: t\r\n\r\nGET /two HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        let one = try #require(answer.firstRange(of: "GET /one - 0"))
        let two = try #require(answer.firstRange(of: "GET /two - 0"))
        #expect(one.lowerBound < two.lowerBound)
    }

    @Test("Content-Length with Transfer-Encoding is refused with 400 and a close")
    func smuggling() throws {
        let server = try echoServer()
        defer { server.stop() }
        let answer = exchange(
            port: server.port,
            "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(answer.hasPrefix("HTTP/1.1 400"))
        #expect(!answer.contains("smuggled"))
    }

    @Test("a declared body over the bound gets 413; a chunked one over it is cut")
    func bodyBound() throws {
        let server = try echoServer(maxBodyBytes: 16)
        defer { server.stop() }
        let declared = exchange(port: server.port, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n")
        #expect(declared.hasPrefix("HTTP/1.1 413"))
        let chunked = exchange(
            port: server.port,
            "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" + String(repeating: "a", count: 32)
                + "\r\n0\r\n\r\n")
        #expect(!chunked.contains("200 OK"))
        let fits = exchange(
            port: server.port, "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 16\r\nConnection: close\r\n\r\n0123456789abcdef")
        #expect(fits.hasSuffix("POST /x - 16\n"))
    }

    @Test("a port in use is a start error, not a crash")
    func portInUse() throws {
        let server = try echoServer()
        defer { server.stop() }
        let second = HTTPServer(
            configuration: HTTPServerConfiguration(host: "127.0.0.1", port: server.port), handler: { _ in .text(200, "") })
        #expect(throws: HTTPServer.StartError.self) { try second.start() }
    }
}
