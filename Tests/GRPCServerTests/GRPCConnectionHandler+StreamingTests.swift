import GRPCCore
import GRPCServer
import HTTP2
import NetCore
import Synchronization
import TestSupport
import Testing

/// Records what the transport tells streaming calls.
private final class CallLog: Sendable {
    let events = Mutex<[String]>([])
    let writers = Mutex<[ServerStreamWriter]>([])
    func add(_ event: String) { events.withLock { $0.append(event) } }
}

/// `Echo` answers each message as it arrives (bidi); `Push` keeps its writer for the test to send from "another
/// thread"; `Capped` allows one open call per connection.
private final class EchoCall: StreamingCall {
    let log: CallLog
    init(log: CallLog) { self.log = log }
    func received(_ message: UnsafeRawBufferPointer, writer: ServerStreamWriter) {
        var response = ResponseBuffer()
        response.appendMessage(Array(message))
        writer.send(response)
    }
    func requestEnded(messages: Int, writer: ServerStreamWriter) {
        log.add("ended \(messages)")
        writer.finish()
    }
    func closed() { log.add("closed") }
}

private struct StreamingTestService: GRPCService {
    let serviceName = "test.Stream"
    let log: CallLog
    let limit = StreamingCallLimit(maxPerConnection: 1, message: "one Capped call per connection")
    var methods: [UnaryMethod] { [] }
    var streamingMethods: [StreamingMethod] {
        let log = self.log
        return [
            StreamingMethod("Echo") { _, _ in .success(EchoCall(log: log)) },
            StreamingMethod("Push") { _, writer in
                log.writers.withLock { $0.append(writer) }
                return .success(EchoCall(log: log))
            },
            StreamingMethod("Capped", limit: limit) { _, _ in .success(EchoCall(log: log)) },
            StreamingMethod("Refused") { _, _ in .failure(RPCError(.permissionDenied, "no")) },
        ]
    }
}

/// Wake-ups collected as the loop's eventfd would carry them.
private final class WakeLog: StreamWakeup, Sendable {
    let tokens = Mutex<[UInt64]>([])
    func wake(token: UInt64) { tokens.withLock { $0.append(token) } }
}

private final class StreamHarness {
    let handler: GRPCConnectionHandler
    let log = CallLog()
    let wakes = WakeLog()
    let decoder = HPACKDecoder()
    var frames: [HTTP2TestFrames.Frame] = []

    init() throws {
        handler = try GRPCConnectionHandler(
            router: GRPCRouter(services: [StreamingTestService(log: log)]), configuration: GRPCServerConfiguration())
        handler.streamWakeup = wakes
        try feed(HTTP2TestFrames.preface + HTTP2TestFrames.settings())
    }

    func feed(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try handler.receive($0) }
        try flush()
    }

    /// Header blocks decoded once, in arrival order (HPACK state moves with each block).
    var blocks: [(stream: UInt32, fields: [String: String])] = []

    func flush() throws {
        var queue = ByteQueue()
        try handler.produceOutput(into: &queue, highWater: 1 << 24)
        let parsed = HTTP2TestFrames.parse(queue.removeAll())
        for frame in parsed where frame.type == 1 {
            var block: [String: String] = [:]
            for field in try decoder.decode(frame.payload) { block[field.name] = field.value }
            blocks.append((frame.stream, block))
        }
        frames += parsed
    }

    /// Delivers pending wake-ups as the loop would.
    func deliverWakes() throws {
        for token in wakes.tokens.withLock({ tokens in defer { tokens = [] }; return tokens }) {
            handler.streamWoken(token: token)
        }
        try flush()
    }

    func open(_ stream: UInt32, _ path: String) throws {
        try feed(HTTP2TestFrames.requestHeaders(stream: stream, path: path))
    }

    func send(_ stream: UInt32, _ message: [UInt8], end: Bool = false) throws {
        try feed(HTTP2TestFrames.data(stream: stream, HTTP2TestFrames.grpcMessage(message), endStream: end))
    }

    func response(_ stream: UInt32) throws -> (headers: [[String: String]], data: [UInt8], ended: Bool) {
        let headers = blocks.filter { $0.stream == stream }.map(\.fields)
        var data: [UInt8] = []
        var ended = false
        for frame in frames where frame.stream == stream {
            if frame.type == 0 {
                data += frame.payload
            }
            if (frame.type == 0 || frame.type == 1) && frame.endStream { ended = true }
        }
        return (headers, data, ended)
    }
}

@Suite("GRPCConnectionHandler streaming", .serialized)
struct GRPCConnectionHandlerStreamingTests {
    @Test func bidiAnswersEachMessageAsItArrives() throws {
        let harness = try StreamHarness()
        try harness.open(1, "/test.Stream/Echo")
        #expect(try harness.response(1).headers.first?[":status"] == "200")
        try harness.send(1, [1, 2])
        try harness.deliverWakes()
        #expect(try harness.response(1).data == HTTP2TestFrames.grpcMessage([1, 2]))
        // Two messages in one DATA frame, the second split across frames.
        let second = HTTP2TestFrames.grpcMessage([3]) + HTTP2TestFrames.grpcMessage([4, 5, 6])
        try harness.feed(HTTP2TestFrames.data(stream: 1, Array(second[0..<8]), endStream: false))
        try harness.feed(HTTP2TestFrames.data(stream: 1, Array(second[8...]), endStream: true))
        try harness.deliverWakes()
        let response = try harness.response(1)
        #expect(
            response.data
                == HTTP2TestFrames.grpcMessage([1, 2]) + HTTP2TestFrames.grpcMessage([3])
                + HTTP2TestFrames.grpcMessage([4, 5, 6]))
        #expect(response.ended)
        #expect(response.headers.last == ["grpc-status": "0"])
        #expect(harness.log.events.withLock { $0 } == ["ended 3", "closed"])
        #expect(harness.handler.activeStreamCount == 0)
    }

    @Test func producerSendsLaterThroughWakeups() throws {
        let harness = try StreamHarness()
        try harness.open(1, "/test.Stream/Push")
        let writer = try #require(harness.log.writers.withLock { $0.first })
        try harness.flush()
        #expect(try harness.response(1).data.isEmpty)  // deferred: nothing to send yet
        var message = ResponseBuffer()
        message.appendMessage([9, 9])
        #expect(writer.send(message))
        try harness.deliverWakes()
        #expect(try harness.response(1).data == HTTP2TestFrames.grpcMessage([9, 9]))
        writer.finish(RPCError(.unavailable, "going away"))
        try harness.deliverWakes()
        let response = try harness.response(1)
        #expect(response.ended)
        #expect(response.headers.last?["grpc-status"] == "14")
        #expect(!writer.send(message))
    }

    @Test func resetCancelsTheCallAndFreesItsSlot() throws {
        let harness = try StreamHarness()
        try harness.open(1, "/test.Stream/Capped")
        try harness.open(3, "/test.Stream/Capped")
        let refused = try harness.response(3)
        #expect(refused.ended && refused.headers.first?["grpc-status"] == "8")
        #expect(refused.headers.first?["grpc-message"] == "one Capped call per connection")
        // RST_STREAM(CANCEL) from the client.
        try harness.feed(HTTP2TestFrames.frame(type: 3, flags: 0, stream: 1, payload: [0, 0, 0, 8]))
        #expect(harness.log.events.withLock { $0 } == ["closed"])
        #expect(harness.handler.openStreamingCallCount == 0)
        try harness.open(5, "/test.Stream/Capped")
        #expect(try harness.response(5).headers.first?["grpc-status"] == nil)
        #expect(harness.handler.openStreamingCallCount == 1)
        harness.handler.detach()  // connection closed: the open call is told too
        #expect(harness.log.events.withLock { $0 } == ["closed", "closed"])
    }

    @Test func deadlineEndsAnOpenStream() throws {
        let harness = try StreamHarness()
        var now: UInt64 = 1_000_000_000
        harness.handler.clock = { now }
        try harness.feed(
            HTTP2TestFrames.requestHeaders(stream: 1, path: "/test.Stream/Push", extra: [("grpc-timeout", "5m")]))
        harness.handler.expireDeadlines(now: now + 1_000_000)
        try harness.flush()
        #expect(!(try harness.response(1).ended))
        now += 6_000_000
        harness.handler.expireDeadlines(now: now)
        try harness.flush()
        let response = try harness.response(1)
        #expect(response.ended && response.headers.last?["grpc-status"] == "4")
        #expect(harness.log.events.withLock { $0 } == ["closed"])
        let writer = try #require(harness.log.writers.withLock { $0.first })
        #expect(writer.isClosed)
    }

    @Test func flowControlHoldsTheRestUntilWindowUpdate() throws {
        let harness = try StreamHarness()
        // SETTINGS_INITIAL_WINDOW_SIZE = 10: the client takes 10 bytes per stream until it says otherwise.
        try harness.feed(HTTP2TestFrames.frame(type: 4, flags: 0, stream: 0, payload: [0, 4, 0, 0, 0, 10]))
        try harness.open(1, "/test.Stream/Push")
        let writer = try #require(harness.log.writers.withLock { $0.first })
        var message = ResponseBuffer()
        message.appendMessage(Array(repeating: 3, count: 25))
        writer.send(message)
        writer.finish()
        try harness.deliverWakes()
        #expect(try harness.response(1).data.count == 10)
        #expect(!(try harness.response(1).ended))
        // WINDOW_UPDATE on the stream: the rest and the trailers follow.
        try harness.feed(HTTP2TestFrames.frame(type: 8, flags: 0, stream: 1, payload: [0, 0, 1, 0]))
        let response = try harness.response(1)
        #expect(response.data == HTTP2TestFrames.grpcMessage(Array(repeating: 3, count: 25)))
        #expect(response.ended && response.headers.last == ["grpc-status": "0"])
    }

    @Test func refusedOpenIsTrailersOnly() throws {
        let harness = try StreamHarness()
        try harness.open(1, "/test.Stream/Refused")
        let response = try harness.response(1)
        #expect(response.ended && response.headers.count == 1 && response.headers[0]["grpc-status"] == "7")
    }

    @Test func writerRefusesASlowReaderPastItsBound() {
        let writer = ServerStreamWriter(token: 1, wakeup: nil, maxQueuedBytes: 16)
        var message = ResponseBuffer()
        message.appendMessage(Array(repeating: 1, count: 10))
        #expect(writer.send(message))
        #expect(!writer.send(message))
        #expect(writer.isClosed)
    }
}
