#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPClient
import Testing

/// A one-shot loopback server: accepts one connection, records the request head, sends a canned response.
final class CannedServer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private var thread: Thread?
    private let lock = NSLock()
    private var _request = ""
    var request: String { lock.withLock { _request } }

    init(response: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        thread = Thread { [self] in
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            var received = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !String(decoding: received, as: UTF8.self).contains("\r\n\r\n") {
                let count = read(client, &buffer, buffer.count)
                if count <= 0 { break }
                received += buffer[0..<count]
            }
            lock.withLock { _request = String(decoding: received, as: UTF8.self) }
            let bytes = Array(response.utf8)
            _ = bytes.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            close(client)
        }
        thread?.start()
    }

    deinit { close(listener) }
}

@Suite("HTTPClient")
struct HTTPClientTests {
    @Test func returnsStatusAndBodyAndSendsHeaders() throws {
        let server = try CannedServer(
            response: "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope!")
        let response = try HTTPClient().perform(
            HTTPRequest(url: "http://127.0.0.1:\(server.port)/api/x?a=1", headers: [("Authorization", "Bearer t")]))
        #expect(response.status == 404)
        #expect(String(decoding: response.body, as: UTF8.self) == "nope!")
        #expect(server.request.hasPrefix("GET /api/x?a=1 HTTP/1.1\r\n"))
        #expect(server.request.contains("Authorization: Bearer t\r\n"))
    }

    @Test func refusesResponsesOverTheLimit() throws {
        let server = try CannedServer(
            response: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789")
        #expect(throws: HTTPClientError.self) {
            try HTTPClient().perform(HTTPRequest(url: "http://127.0.0.1:\(server.port)/", maxResponseBytes: 4))
        }
    }

    @Test func aRefusedConnectionIsAnError() {
        // Port 1 on loopback: nothing listens there.
        #expect(throws: HTTPClientError.self) { try HTTPClient().perform(HTTPRequest(url: "http://127.0.0.1:1/")) }
    }
}
