import TestSupport
import HTTP2
import NetCore
import Testing

/// Records what the session reports; answers with a fixed body and trailers.
private final class RecordingDelegate: HTTP2SessionDelegate {
    var events: [String] = []
    var headers: [(String, String)] = []
    var body: [UInt8] = []
    var rejectHeaderNamed: String?
    var responseBody: [UInt8] = Array("hello".utf8)
    var offset = 0
    let trailers = HTTP2HeaderBlock([("grpc-status", "0")], persistent: true)

    func http2StreamOpened(_ stream: Int32) { events.append("open \(stream)") }
    func http2Header(_ stream: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        let pair = (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        headers.append(pair)
        return pair.0 != rejectHeaderNamed
    }
    func http2HeadersComplete(_ stream: Int32, endStream: Bool) { events.append("headers \(stream) end=\(endStream)") }
    func http2Data(_ stream: Int32, _ bytes: UnsafeRawBufferPointer) { body += bytes }
    func http2DataEnded(_ stream: Int32) { events.append("data-end \(stream)") }
    func http2StreamClosed(_ stream: Int32, errorCode: UInt32) { events.append("closed \(stream) code=\(errorCode)") }
    func http2ReadBody(_ stream: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, end: Bool) {
        let count = min(buffer.count, responseBody.count - offset)
        responseBody[offset..<offset + count].withUnsafeBytes { buffer.copyMemory(from: $0) }
        offset += count
        return (count, offset == responseBody.count)
    }
    func http2Trailers(_ stream: Int32) -> HTTP2HeaderBlock? { trailers }
    func http2InvalidFrame(_ stream: Int32) { events.append("invalid \(stream)") }
}

@Suite("HTTP2Session")
struct HTTP2SessionTests {
    private func feed(_ session: HTTP2Session, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try session.receive($0) }
    }

    private func output(_ session: HTTP2Session) throws -> [HTTP2TestFrames.Frame] {
        var queue = ByteQueue()
        try session.send(into: &queue, highWater: 1 << 20)
        return HTTP2TestFrames.parse(queue.removeAll())
    }

    @Test func sendsSettingsWithLimitsFirst() throws {
        let delegate = RecordingDelegate()
        var settings = HTTP2Settings()
        settings.maxConcurrentStreams = 7
        let session = try HTTP2Session(delegate: delegate, settings: settings)
        let frames = try output(session)
        let settingsFrame = try #require(frames.first)
        #expect(settingsFrame.type == 4)
        // Entry: id 0x3 (MAX_CONCURRENT_STREAMS) = 7.
        var entries: [(Int, Int)] = []
        let payload = settingsFrame.payload
        for i in stride(from: 0, to: payload.count, by: 6) {
            let id = Int(payload[i]) << 8 | Int(payload[i + 1])
            var value = 0
            for byte in payload[(i + 2)..<(i + 6)] { value = value << 8 | Int(byte) }
            entries.append((id, value))
        }
        #expect(entries.contains { $0.0 == 3 && $0.1 == 7 })
        #expect(entries.contains { $0.0 == 6 && $0.1 == 8192 })
    }

    @Test func decodesRequestAndSendsResponseWithTrailers() throws {
        let delegate = RecordingDelegate()
        let session = try HTTP2Session(delegate: delegate, settings: HTTP2Settings())
        _ = try output(session)
        try feed(
            session,
            HTTP2TestFrames.preface + HTTP2TestFrames.settings()
                + HTTP2TestFrames.requestHeaders(stream: 1, path: "/a.B/C", extra: [("x-request-id", "r1")])
                + HTTP2TestFrames.data(stream: 1, [1, 2], endStream: false) + HTTP2TestFrames.data(stream: 1, [3]))
        #expect(delegate.events == ["open 1", "headers 1 end=false", "data-end 1"])
        #expect(delegate.headers.contains { $0 == (":path", "/a.B/C") })
        #expect(delegate.headers.contains { $0 == ("x-request-id", "r1") })
        #expect(delegate.body == [1, 2, 3])

        let headers = HTTP2HeaderBlock([(":status", "200"), ("content-type", "application/grpc")], persistent: false)
        #expect(session.submitResponse(1, headers: headers, hasBody: true))
        let frames = try output(session).filter { $0.stream == 1 }
        #expect(frames.map(\.type) == [1, 0, 1])
        #expect(frames[1].payload == Array("hello".utf8))
        #expect(!frames[1].endStream && frames[2].endStream)
        let decoder = HPACKDecoder()
        #expect(try decoder.decode(frames[0].payload).map(\.name) == [":status", "content-type"])
        #expect(try decoder.decode(frames[2].payload).map { "\($0.name)=\($0.value)" } == ["grpc-status=0"])
        #expect(delegate.events.last == "closed 1 code=0")
    }

    @Test func trailersOnlyResponseEndsStreamInHeaders() throws {
        let delegate = RecordingDelegate()
        let session = try HTTP2Session(delegate: delegate, settings: HTTP2Settings())
        try feed(
            session,
            HTTP2TestFrames.preface + HTTP2TestFrames.settings()
                + HTTP2TestFrames.requestHeaders(stream: 1, path: "/x", endStream: true))
        let block = HTTP2HeaderBlock([(":status", "200"), ("grpc-status", "12")], persistent: false)
        session.submitResponse(1, headers: block, hasBody: false)
        let frames = try output(session).filter { $0.stream == 1 }
        #expect(frames.count == 1 && frames[0].type == 1 && frames[0].endStream)
    }

    @Test func rejectedHeaderResetsTheStream() throws {
        let delegate = RecordingDelegate()
        delegate.rejectHeaderNamed = "x-bad"
        let session = try HTTP2Session(delegate: delegate, settings: HTTP2Settings())
        try feed(
            session,
            HTTP2TestFrames.preface + HTTP2TestFrames.settings()
                + HTTP2TestFrames.requestHeaders(stream: 1, path: "/x", extra: [("x-bad", "1")]))
        let frames = try output(session)
        #expect(frames.contains { $0.type == 3 && $0.stream == 1 })
    }

    @Test func badPrefaceIsAConnectionError() throws {
        let delegate = RecordingDelegate()  // the session does not retain its delegate
        defer { withExtendedLifetime(delegate) {} }
        let session = try HTTP2Session(delegate: delegate, settings: HTTP2Settings())
        #expect(throws: HTTP2Error.self) { try feed(session, Array("GET / HTTP/1.1\r\n\r\n".utf8)) }
    }

    @Test func pingFloodIsDetected() throws {
        let delegate = RecordingDelegate()  // the session does not retain its delegate
        defer { withExtendedLifetime(delegate) {} }
        let session = try HTTP2Session(delegate: delegate, settings: HTTP2Settings())
        var bytes = HTTP2TestFrames.preface + HTTP2TestFrames.settings()
        for _ in 0..<1100 {
            bytes += HTTP2TestFrames.frame(type: 6, flags: 0, stream: 0, payload: Array(repeating: 1, count: 8))
        }
        // Never sending means the acknowledgements pile up until the library reports a flood.
        var flooded = false
        do { try feed(session, bytes) } catch let error as HTTP2Error { flooded = error.isFlood }
        #expect(flooded)
    }

    @Test func gracefulShutdownSendsGoaway() throws {
        let delegate = RecordingDelegate()  // the session does not retain its delegate
        defer { withExtendedLifetime(delegate) {} }
        let session = try HTTP2Session(delegate: delegate, settings: HTTP2Settings())
        try feed(session, HTTP2TestFrames.preface + HTTP2TestFrames.settings())
        session.submitShutdownNotice()
        session.submitGoaway(errorCode: HTTP2Session.ErrorCode.noError)
        let goaways = try output(session).filter { $0.type == 7 }
        #expect(goaways.count == 2)
        #expect(!session.wantsRead)
    }
}
