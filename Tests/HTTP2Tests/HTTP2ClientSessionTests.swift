import HTTP2
import NetCore
import Testing

/// A server side that answers once the request body is complete (or resets the stream).
private final class AnsweringDelegate: HTTP2SessionDelegate {
    var requestHeaders: [(String, String)] = []
    var requestBody: [UInt8] = []
    var ended: [Int32] = []
    let responseBody: [UInt8]
    var offset = 0
    let trailers = HTTP2HeaderBlock([("grpc-status", "0"), ("grpc-message", "")], persistent: true)

    init(responseBody: [UInt8]) { self.responseBody = responseBody }

    func http2StreamOpened(_ stream: Int32) {}
    func http2Header(_ stream: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        requestHeaders.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        return true
    }
    func http2HeadersComplete(_ stream: Int32, endStream: Bool) {}
    func http2Data(_ stream: Int32, _ bytes: UnsafeRawBufferPointer) { requestBody += bytes }
    func http2DataEnded(_ stream: Int32) { ended.append(stream) }
    func http2StreamClosed(_ stream: Int32, errorCode: UInt32) {}
    func http2ReadBody(_ stream: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (count: Int, end: Bool) {
        let count = min(buffer.count, responseBody.count - offset)
        responseBody[offset..<offset + count].withUnsafeBytes { buffer.copyMemory(from: $0) }
        offset += count
        return (count, offset == responseBody.count)
    }
    func http2Trailers(_ stream: Int32) -> HTTP2HeaderBlock? { trailers }
    func http2InvalidFrame(_ stream: Int32) {}
}

/// The client session against the server session, bytes moved in memory (no sockets).
@Suite("HTTP2ClientSession")
struct HTTP2ClientSessionTests {
    /// Moves bytes both ways until neither side has anything to send; `onRequestEnded` runs on the server side
    /// once per completed request.
    fileprivate func pump(
        _ client: HTTP2ClientSession, _ server: HTTP2Session, _ delegate: AnsweringDelegate,
        onRequestEnded: (Int32) -> Void
    ) throws {
        var answered: Set<Int32> = []
        for _ in 0..<50 {
            let toServer = try client.pendingOutput()
            try toServer.withUnsafeBytes { try server.receive($0) }
            for stream in delegate.ended where !answered.contains(stream) {
                answered.insert(stream)
                onRequestEnded(stream)
            }
            var queue = ByteQueue()
            try server.send(into: &queue, highWater: 1 << 22)
            let toClient = queue.removeAll()
            try toClient.withUnsafeBytes { try client.receive($0) }
            if toServer.isEmpty && toClient.isEmpty { return }
        }
    }

    @Test("a request with a body larger than a frame gets the response, its body and trailers")
    func roundTrip() throws {
        let requestBody = (0..<40_000).map { UInt8(truncatingIfNeeded: $0) }
        let delegate = AnsweringDelegate(responseBody: (0..<30_000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        let server = try HTTP2Session(delegate: delegate, settings: HTTP2Settings())
        let client = try HTTP2ClientSession()
        let stream = try client.submitRequest(
            headers: [
                (":method", "POST"), (":scheme", "http"), (":path", "/a.B/C"), (":authority", "x"),
                ("content-type", "application/grpc"), ("x-api-key", "k"),
            ],
            body: requestBody)
        try pump(client, server, delegate) { stream in
            let headers = HTTP2HeaderBlock(
                [(":status", "200"), ("content-type", "application/grpc")], persistent: false)
            #expect(server.submitResponse(stream, headers: headers, hasBody: true))
        }
        #expect(delegate.requestBody == requestBody)
        #expect(delegate.requestHeaders.contains { $0 == (":path", "/a.B/C") })
        #expect(delegate.requestHeaders.contains { $0 == ("x-api-key", "k") })
        let response = try #require(client.response(stream))
        #expect(response.closed && response.errorCode == 0)
        #expect(response.headers.contains { $0 == (":status", "200") })
        #expect(response.body == delegate.responseBody)
        #expect(response.trailers.map(\.name) == ["grpc-status", "grpc-message"])
    }

    @Test("a stream the server resets is closed with its error code")
    func reset() throws {
        let delegate = AnsweringDelegate(responseBody: [])
        let server = try HTTP2Session(delegate: delegate, settings: HTTP2Settings())
        let client = try HTTP2ClientSession()
        let stream = try client.submitRequest(
            headers: [(":method", "POST"), (":scheme", "http"), (":path", "/a.B/C"), (":authority", "x")], body: [1])
        try pump(client, server, delegate) { server.resetStream($0, errorCode: HTTP2Session.ErrorCode.refusedStream) }
        let response = try #require(client.response(stream))
        #expect(response.closed && response.errorCode == HTTP2Session.ErrorCode.refusedStream)
        #expect(response.headers.isEmpty)
    }
}
