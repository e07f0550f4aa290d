import GRPCCore
import HTTP2
import Testing

@testable import GRPCClient

/// How a finished HTTP/2 response becomes a message or a status, and name resolution for `--replicas`.
@Suite("GRPCClient")
struct GRPCClientTests {
    func response(
        headers: [(name: String, value: String)] = [(":status", "200")], trailers: [(name: String, value: String)] = [],
        body: [UInt8] = [], errorCode: UInt32 = 0
    ) -> HTTP2ClientSession.Response {
        var r = HTTP2ClientSession.Response()
        r.headers = headers
        r.trailers = trailers
        r.body = body
        r.closed = true
        r.errorCode = errorCode
        return r
    }

    @Test("OK with a length-prefixed message returns the message")
    func ok() throws {
        let r = response(trailers: [("grpc-status", "0")], body: [0, 0, 0, 0, 3, 7, 8, 9])
        #expect(try GRPCClient.result(r, address: "a:1") == [7, 8, 9])
    }

    @Test("a status in the trailers, or trailers-only in the headers, becomes an RPCError with its message")
    func statuses() {
        let trailers = response(trailers: [("grpc-status", "9"), ("grpc-message", "rollout%20has%20ended")])
        #expect(throws: RPCError(.failedPrecondition, "rollout has ended")) {
            try GRPCClient.result(trailers, address: "a:1")
        }
        let only = response(headers: [(":status", "200"), ("grpc-status", "16"), ("grpc-message", "no key")])
        #expect(throws: RPCError(.unauthenticated, "no key")) { try GRPCClient.result(only, address: "a:1") }
    }

    @Test("broken answers are precise errors, never a crash")
    func broken() {
        #expect(throws: RPCError.self) { try GRPCClient.result(response(), address: "a:1") }  // no grpc-status
        #expect(throws: RPCError.self) {
            try GRPCClient.result(response(trailers: [("grpc-status", "0")], body: [0, 0, 0, 0, 9, 1]), address: "a:1")
        }
        #expect(throws: RPCError.self) {
            try GRPCClient.result(response(trailers: [("grpc-status", "99")]), address: "a:1")
        }
        do {
            _ = try GRPCClient.result(response(headers: [], errorCode: 7), address: "a:1")
            Issue.record("a reset stream must fail")
        } catch {
            #expect(error.code == .unavailable)
        }
    }

    @Test("names resolve to every address; an unknown name is UNAVAILABLE with the reason")
    func resolve() throws {
        #expect(try GRPCClient.resolve("127.0.0.1") == ["127.0.0.1"])
        #expect(try GRPCClient.resolve("localhost").contains("127.0.0.1"))
        #expect(throws: RPCError.self) { try GRPCClient.resolve("no-such-host.invalid") }
    }

    @Test("a refused connection is UNAVAILABLE naming the address")
    func refused() throws {
        let client = GRPCClient(host: "127.0.0.1", port: 1, tls: nil, timeoutSeconds: 2)
        do {
            _ = try client.unary(path: "/a.B/C", request: [])
            Issue.record("port 1 must refuse")
        } catch let error as RPCError {
            #expect(error.code == .unavailable && error.message.contains("127.0.0.1:1"))
        }
    }
}
