import TestSupport
import GRPCCore
import GRPCServer
import HTTP2
import NetCore
import Synchronization
import Testing

/// Echoes the request; `Meta` answers with the request's metadata; `Later` defers; `Fail` fails.
private struct TestService: GRPCService {
    let serviceName = "test.Echo"
    var methods: [UnaryMethod] {
        [
            UnaryMethod("Say") { request, _, response in
                response.appendMessage(Array(request))
                return .ok
            },
            UnaryMethod("Meta") { _, context, response in
                let text = context.metadata.map { "\($0.name)=\($0.value)" }.joined(separator: ";")
                response.appendMessage(Array(text.utf8))
                return .ok
            },
            UnaryMethod("Later") { _, context, _ in
                guard let promise = context.makePromise() else { return .failure(RPCError(.internal, "no promise")) }
                PromiseBox.shared.withLock { $0.append(promise) }
                return .deferred
            },
            UnaryMethod("Fail") { _, _, _ in .failure(RPCError(.invalidArgument, "bad 100%")) },
            UnaryMethod("Deny") { _, _, _ in .failure(RPCError(.unauthenticated, "bad credentials")) },
            UnaryMethod("Who") { _, context, response in
                let text =
                    "\(context.peer)|\(context.clientCertificateSubject ?? "-")|\(context.deadline.map(String.init) ?? "-")"
                response.appendMessage(Array(text.utf8))
                return .ok
            },
        ]
    }
}

private enum PromiseBox {
    static let shared = Mutex<[UnaryPromise]>([])
}

/// Collects completions as the transport's loop would, to deliver them afterwards on the "loop thread".
private final class TestSink: DeferredCompletionSink, @unchecked Sendable {
    let results = Mutex<[(UInt64, Result<ResponseBuffer, RPCError>)]>([])
    func complete(token: UInt64, with result: Result<ResponseBuffer, RPCError>) {
        results.withLock { $0.append((token, result)) }
    }
}

/// A client view of one connection: feeds bytes, collects the server's frames per stream, decodes headers.
private final class Harness {
    let handler: GRPCConnectionHandler
    let decoder = HPACKDecoder()
    var frames: [HTTP2TestFrames.Frame] = []
    var now: UInt64 = 1_000_000_000

    init(configure: (inout GRPCServerConfiguration) -> Void = { _ in }) throws {
        var configuration = GRPCServerConfiguration()
        configure(&configuration)
        handler = try GRPCConnectionHandler(
            router: GRPCRouter(services: [TestService()]), configuration: configuration, peer: "127.0.0.1:1")
        handler.clock = { [unowned self] in self.now }
        try feed(HTTP2TestFrames.preface + HTTP2TestFrames.settings())
    }

    func feed(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try handler.receive($0) }
        var queue = ByteQueue()
        try handler.produceOutput(into: &queue, highWater: 1 << 24)
        frames += HTTP2TestFrames.parse(queue.removeAll())
    }

    func call(_ stream: UInt32, _ path: String, _ message: [UInt8], extra: [(String, String)] = []) throws {
        try feed(
            HTTP2TestFrames.requestHeaders(stream: stream, path: path, extra: extra)
                + HTTP2TestFrames.data(stream: stream, HTTP2TestFrames.grpcMessage(message)))
    }

    /// Decoded header blocks and DATA of a stream, in order: ("H", fields) or ("D", bytes).
    func response(_ stream: UInt32) throws -> (headers: [[String: String]], data: [UInt8], ended: Bool) {
        var headers: [[String: String]] = []
        var data: [UInt8] = []
        var ended = false
        for frame in frames where frame.stream == stream {
            if frame.type == 1 {
                var block: [String: String] = [:]
                for field in try decoder.decode(frame.payload) { block[field.name] = field.value }
                headers.append(block)
            } else if frame.type == 0 {
                data += frame.payload
            }
            if (frame.type == 0 || frame.type == 1) && frame.endStream { ended = true }
        }
        return (headers, data, ended)
    }
}

@Suite("GRPCConnectionHandler", .serialized)
struct GRPCConnectionHandlerTests {
    @Test func unaryCallGetsHeadersMessageTrailers() throws {
        let harness = try Harness()
        try harness.call(1, "/test.Echo/Say", [1, 2, 3])
        let response = try harness.response(1)
        #expect(response.ended)
        #expect(response.headers.count == 2)
        #expect(response.headers[0] == [":status": "200", "content-type": "application/grpc"])
        #expect(response.data == HTTP2TestFrames.grpcMessage([1, 2, 3]))
        #expect(response.headers[1] == ["grpc-status": "0"])
        #expect(harness.handler.activeStreamCount == 0)
    }

    @Test func messageSplitAcrossDataFrames() throws {
        let harness = try Harness()
        let message = HTTP2TestFrames.grpcMessage(Array(repeating: 7, count: 1000))
        try harness.feed(
            HTTP2TestFrames.requestHeaders(stream: 1, path: "/test.Echo/Say")
                + HTTP2TestFrames.data(stream: 1, Array(message[0..<3]), endStream: false)
                + HTTP2TestFrames.data(stream: 1, Array(message[3..<500]), endStream: false)
                + HTTP2TestFrames.data(stream: 1, Array(message[500...])))
        #expect(try harness.response(1).data == message)
    }

    @Test func unknownMethodIsTrailersOnlyUnimplemented() throws {
        let harness = try Harness()
        try harness.call(1, "/test.Echo/Shout", [])
        try harness.call(3, "/other.Svc/Do", [])
        let method = try harness.response(1)
        #expect(method.headers.count == 1 && method.ended)
        #expect(method.headers[0]["grpc-status"] == "12")
        #expect(method.headers[0][":status"] == "200")
        #expect(method.headers[0]["grpc-message"] == "unknown method 'Shout' of service 'test.Echo'")
        #expect(try harness.response(3).headers[0]["grpc-message"] == "unknown service 'other.Svc'")
    }

    @Test func handlerFailureIsPercentEncoded() throws {
        let harness = try Harness()
        try harness.call(1, "/test.Echo/Fail", [])
        let headers = try harness.response(1).headers
        #expect(headers.count == 1)
        #expect(headers[0]["grpc-status"] == "3")
        #expect(headers[0]["grpc-message"] == "bad 100%25")
    }

    @Test func customMetadataReachesTheHandler() throws {
        let harness = try Harness()
        try harness.call(
            1, "/test.Echo/Meta", [],
            extra: [
                ("authorization", "Bearer t"), ("x-api-key", "k1"), ("x-request-id", "r9"),
                ("grpc-timeout", "5S"), ("user-agent", "test"),
            ])
        let data = try harness.response(1).data
        #expect(
            String(decoding: data.dropFirst(5), as: UTF8.self) == "authorization=Bearer t;x-api-key=k1;x-request-id=r9")
    }

    @Test func peerSubjectAndDeadlineReachTheHandler() throws {
        let harness = try Harness()
        harness.handler.clientCertificateSubject = "CN=client-one,O=Test"
        try harness.call(1, "/test.Echo/Who", [], extra: [("grpc-timeout", "2S")])
        let text = String(decoding: try harness.response(1).data.dropFirst(5), as: UTF8.self)
        #expect(text == "127.0.0.1:1|CN=client-one,O=Test|\(harness.now + 2_000_000_000)")
    }

    @Test func oversizedMessageIsResourceExhausted() throws {
        let harness = try Harness { $0.maxMessageBytes = 16 }
        try harness.call(1, "/test.Echo/Say", Array(repeating: 1, count: 17))
        let headers = try harness.response(1).headers
        #expect(headers[0]["grpc-status"] == "8")
        #expect(headers[0]["grpc-message"]?.contains("limit of 16 bytes") == true)
        try harness.call(3, "/test.Echo/Say", Array(repeating: 1, count: 16))
        #expect(try harness.response(3).headers.last?["grpc-status"] == "0")
    }

    @Test func wrongContentTypeIs415WithTextBodyAfterTheRequestEnds() throws {
        let harness = try Harness()
        try harness.feed(HTTP2TestFrames.requestHeaders(stream: 1, path: "/test.Echo/Say", contentType: "text/plain"))
        #expect(try harness.response(1).headers.isEmpty)
        try harness.feed(HTTP2TestFrames.data(stream: 1, Array("hello".utf8)))
        let response = try harness.response(1)
        #expect(response.headers.count == 1)
        #expect(response.headers[0][":status"] == "415")
        #expect(response.headers[0]["content-type"] == "text/plain; charset=utf-8")
        #expect(String(decoding: response.data, as: UTF8.self).contains("content-type application/grpc"))
    }

    @Test func connectionWithRepeatedBadCredentialsGetsGoaway() throws {
        let harness = try Harness { $0.maxAuthenticationFailuresPerConnection = 3 }
        for stream: UInt32 in [1, 3] {
            try harness.call(stream, "/test.Echo/Deny", [])
            #expect(try harness.response(stream).headers.first?["grpc-status"] == "16")
        }
        #expect(!harness.frames.contains { $0.type == 7 })
        try harness.call(5, "/test.Echo/Fail", [])  // other errors do not count
        try harness.call(7, "/test.Echo/Deny", [])
        let goaway = try #require(harness.frames.first { $0.type == 7 })
        #expect(Array(goaway.payload[4..<8]) == [0, 0, 0, 0x0b])  // ENHANCE_YOUR_CALM
        #expect(harness.handler.authenticationFailures == 3)
    }

    @Test func deadlineExpiresWhileWaitingForTheBody() throws {
        let harness = try Harness()
        var scheduled: [UInt64] = []
        harness.handler.scheduleWakeup = { scheduled.append($0) }
        try harness.feed(
            HTTP2TestFrames.requestHeaders(stream: 1, path: "/test.Echo/Say", extra: [("grpc-timeout", "100m")]))
        #expect(scheduled == [harness.now + 100_000_000])
        harness.now += 50_000_000
        harness.handler.expireDeadlines(now: harness.now)
        #expect(try harness.response(1).headers.isEmpty)
        harness.now += 60_000_000
        harness.handler.expireDeadlines(now: harness.now)
        try harness.feed([])
        #expect(try harness.response(1).headers.first?["grpc-status"] == "4")
    }

    @Test func stalledRequestBodyIsEnded() throws {
        let harness = try Harness()
        try harness.feed(HTTP2TestFrames.requestHeaders(stream: 1, path: "/test.Echo/Say"))
        harness.handler.expireStalledRequests(now: harness.now + 59_000_000_000, limit: 60_000_000_000)
        try harness.feed([])
        #expect(try harness.response(1).headers.isEmpty)
        harness.handler.expireStalledRequests(now: harness.now + 61_000_000_000, limit: 60_000_000_000)
        try harness.feed([])
        let headers = try harness.response(1).headers
        #expect(headers.first?["grpc-status"] == "4")
        #expect(headers.first?["grpc-message"]?.contains("request body") == true)
    }

    @Test func expiredDeadlineBeforeDispatch() throws {
        let harness = try Harness()
        try harness.call(1, "/test.Echo/Say", [1], extra: [("grpc-timeout", "0n")])
        #expect(try harness.response(1).headers.first?["grpc-status"] == "4")
    }

    @Test func deferredCallCompletesLater() throws {
        let harness = try Harness()
        let sink = TestSink()
        harness.handler.completionSink = sink
        harness.handler.connectionID = 9
        try harness.call(1, "/test.Echo/Later", [])
        #expect(try harness.response(1).headers.isEmpty)
        let promise = try #require(PromiseBox.shared.withLock { $0.popLast() })
        var buffer = ResponseBuffer()
        buffer.appendMessage([42])
        promise.succeed(buffer)
        let (token, result) = try #require(sink.results.withLock { $0.first })
        #expect(token == 9 << 32 | 1)
        harness.handler.completeDeferred(stream: 1, result: result)
        try harness.feed([])
        let response = try harness.response(1)
        #expect(response.data == [0, 0, 0, 0, 1, 42])
        #expect(response.headers.last == ["grpc-status": "0"])
    }

    @Test func unsupportedEncodingAndGzip() throws {
        let harness = try Harness()
        try harness.feed(
            HTTP2TestFrames.requestHeaders(stream: 1, path: "/test.Echo/Say", extra: [("grpc-encoding", "snappy")])
                + HTTP2TestFrames.data(stream: 1, HTTP2TestFrames.grpcMessage([1], compressed: true)))
        let headers = try harness.response(1).headers[0]
        #expect(headers["grpc-status"] == "12")
        #expect(headers["grpc-accept-encoding"] == "gzip,identity")
        // gzip of the bytes "hi" (made with Python's gzip.compress(b"hi", mtime=0)).
        let gzipped: [UInt8] = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0xcb, 0xc8, 0x04, 0x00,
            0xac, 0x2a, 0x93, 0xd8, 0x02, 0x00, 0x00, 0x00,
        ]
        try harness.feed(
            HTTP2TestFrames.requestHeaders(stream: 3, path: "/test.Echo/Say", extra: [("grpc-encoding", "gzip")])
                + HTTP2TestFrames.data(stream: 3, HTTP2TestFrames.grpcMessage(gzipped, compressed: true)))
        #expect(try harness.response(3).data == HTTP2TestFrames.grpcMessage(Array("hi".utf8)))
    }

    @Test func headerListOverLimit() throws {
        let harness = try Harness()
        let big = (0..<40).map { ("x-h\($0)", String(repeating: "v", count: 200)) }
        try harness.call(1, "/test.Echo/Say", [], extra: big)
        let headers = try harness.response(1).headers[0]
        #expect(headers["grpc-status"] == "8")
        #expect(headers["grpc-message"]?.contains("8192") == true)
    }

    @Test func gracefulShutdownLetsStreamsFinish() throws {
        let harness = try Harness()
        try harness.feed(HTTP2TestFrames.requestHeaders(stream: 1, path: "/test.Echo/Say"))
        harness.handler.beginGracefulShutdown()
        harness.handler.finishGracefulShutdown()
        try harness.feed([])
        #expect(harness.frames.filter { $0.type == 7 }.count == 2)
        #expect(!harness.handler.isFinished)
        try harness.feed(HTTP2TestFrames.data(stream: 1, HTTP2TestFrames.grpcMessage([5])))
        #expect(try harness.response(1).headers.last == ["grpc-status": "0"])
        #expect(harness.handler.isFinished)
    }

    @Test func glitchLimitClosesTheConnection() throws {
        let harness = try Harness { $0.maxGlitchesPerConnection = 3 }
        let big = (0..<50).map { ("x-h\($0)", String(repeating: "v", count: 200)) }
        for stream in stride(from: UInt32(1), through: 9, by: 2) {
            try harness.call(stream, "/test.Echo/Say", [], extra: big)
        }
        #expect(harness.handler.closeReason != nil)
        #expect(harness.frames.contains { $0.type == 7 })
    }

    @Test func detachReleasesTheHandlerAndItsSession() throws {
        weak var released: GRPCConnectionHandler?
        do {
            let harness = try Harness()
            try harness.call(1, "/test.Echo/Say", [1, 2, 3])
            released = harness.handler
            harness.handler.detach()
            #expect(harness.handler.isFinished)
            // After detach the handler reads and writes nothing, and does not fail.
            try harness.feed(HTTP2TestFrames.settings())
        }
        #expect(released == nil, "the handler and its session keep each other alive after detach")
    }
}
