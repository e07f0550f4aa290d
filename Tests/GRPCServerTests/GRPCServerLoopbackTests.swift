import TestSupport
import GRPCCore
import GRPCServer
import HTTP2
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` on a new thread after a delay: a worker that completes promises from outside the event loop.
/// (Not Dispatch: its global pool can be starved by test bodies blocked in `recv`, which would stall the test.)
private func onNewThread(afterMilliseconds delay: UInt32, _ body: @escaping @Sendable () -> Void) {
    final class Box: @unchecked Sendable {
        let delay: UInt32
        let body: @Sendable () -> Void
        init(_ delay: UInt32, _ body: @escaping @Sendable () -> Void) {
            self.delay = delay
            self.body = body
        }
    }
    let box = Unmanaged.passRetained(Box(delay, body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(
        &thread, nil,
        { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            usleep(box.delay * 1000)
            box.body()
            return nil
        }, box)
    if rc == 0 { pthread_detach(thread) } else { Unmanaged<Box>.fromOpaque(box).release() }
}

/// A service whose answer is produced on another thread, after the handler has returned `.deferred`.
private struct SlowService: GRPCService {
    let serviceName = "test.Slow"
    var methods: [UnaryMethod] {
        [
            UnaryMethod("Echo") { request, context, _ in
                guard let promise = context.makePromise() else { return .failure(RPCError(.internal, "cannot defer")) }
                let bytes = Array(request)
                onNewThread(afterMilliseconds: 30) {
                    var response = ResponseBuffer()
                    response.appendMessage(bytes.reversed())
                    promise.succeed(response)
                }
                return .deferred
            },
            UnaryMethod("Hang") { _, context, _ in
                // Completes only after 300 ms: long after a short deadline, or after the client reset the stream.
                guard let promise = context.makePromise() else { return .failure(RPCError(.internal, "cannot defer")) }
                onNewThread(afterMilliseconds: 300) {
                    promise.fail(RPCError(.aborted, "too late"))
                }
                return .deferred
            },
        ]
    }
}

/// A blocking loopback client socket.
private struct Client {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(rc == 0)
    }

    func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } }

    /// Reads frames until `done` says so or the socket times out.
    func read(until done: ([HTTP2TestFrames.Frame]) -> Bool) -> [HTTP2TestFrames.Frame] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !done(HTTP2TestFrames.parse(bytes)) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return HTTP2TestFrames.parse(bytes)
    }

    func close() { _ = Glibc.close(fd) }
}

@Suite("GRPCServer over loopback", .serialized)
struct GRPCServerLoopbackTests {
    @Test func deferredCallsWakeTheirLoop() throws {
        var configuration = GRPCServerConfiguration()
        configuration.port = 0
        configuration.threads = 2
        let server = GRPCServer(configuration: configuration, router: GRPCRouter(services: [SlowService()]))
        try server.start()
        defer {
            server.beginGracefulShutdown()
            if !server.wait(timeoutSeconds: 5) {
                server.forceShutdown()
                _ = server.wait(timeoutSeconds: 5)
            }
        }
        let client = try Client(port: server.port)
        defer { client.close() }
        var request = HTTP2TestFrames.preface + HTTP2TestFrames.settings()
        for stream in stride(from: UInt32(1), through: 19, by: 2) {
            request += HTTP2TestFrames.requestHeaders(stream: stream, path: "/test.Slow/Echo")
            request += HTTP2TestFrames.data(stream: stream, HTTP2TestFrames.grpcMessage([1, 2, UInt8(stream)]))
        }
        client.send(request)
        let frames = client.read { frames in frames.filter { $0.type == 1 && $0.endStream }.count == 10 }
        let ended = Set(frames.filter { $0.type == 1 && $0.endStream }.map(\.stream))
        #expect(
            ended == Set(stride(from: UInt32(1), through: 19, by: 2)),
            "frames: \(frames.map { "\($0.type)/\($0.stream)/\($0.flags)/\($0.payload.count)" })")
        for stream in stride(from: UInt32(1), through: 19, by: 2) {
            let data = frames.filter { $0.type == 0 && $0.stream == stream }.flatMap(\.payload)
            #expect(
                data == HTTP2TestFrames.grpcMessage([UInt8(stream), 2, 1]),
                "stream \(stream): \(frames.map { "\($0.type)/\($0.stream)/\($0.flags)/\($0.payload.count)" })")
        }
    }

    @Test func deadlineOfADeferredCallFiresOnTheLoopTimer() throws {
        var configuration = GRPCServerConfiguration()
        configuration.port = 0
        let server = GRPCServer(configuration: configuration, router: GRPCRouter(services: [SlowService()]))
        try server.start()
        defer {
            server.forceShutdown()
            _ = server.wait(timeoutSeconds: 5)
        }
        let client = try Client(port: server.port)
        defer { client.close() }
        let decoder = HPACKDecoder()
        client.send(
            HTTP2TestFrames.preface + HTTP2TestFrames.settings()
                + HTTP2TestFrames.requestHeaders(stream: 1, path: "/test.Slow/Hang", extra: [("grpc-timeout", "50m")])
                + HTTP2TestFrames.data(stream: 1, HTTP2TestFrames.grpcMessage([]))
                // Stream 3 is reset by the client while its handler is still working.
                + HTTP2TestFrames.requestHeaders(stream: 3, path: "/test.Slow/Hang")
                + HTTP2TestFrames.data(stream: 3, HTTP2TestFrames.grpcMessage([]))
                + HTTP2TestFrames.frame(type: 3, flags: 0, stream: 3, payload: [0, 0, 0, 8]))
        let frames = client.read { frames in frames.contains { $0.type == 1 && $0.stream == 1 && $0.endStream } }
        let answer = try #require(frames.first { $0.type == 1 && $0.stream == 1 })
        #expect(try decoder.decode(answer.payload).contains { $0.name == "grpc-status" && $0.value == "4" })
        // After the late completions arrive (300 ms), the connection still serves calls.
        usleep(400_000)
        client.send(
            HTTP2TestFrames.requestHeaders(stream: 5, path: "/test.Slow/Echo")
                + HTTP2TestFrames.data(stream: 5, HTTP2TestFrames.grpcMessage([3])))
        let later = client.read { frames in frames.contains { $0.type == 1 && $0.stream == 5 && $0.endStream } }
        #expect(later.contains { $0.type == 0 && $0.stream == 5 })
        #expect(!later.contains { $0.stream == 3 && $0.type != 3 })
    }

    @Test func portInUseIsAnError() throws {
        var configuration = GRPCServerConfiguration()
        configuration.port = 0
        let first = GRPCServer(configuration: configuration, router: GRPCRouter(services: [SlowService()]))
        try first.start()
        defer {
            first.beginGracefulShutdown()
            _ = first.wait(timeoutSeconds: 5)
        }
        configuration.port = first.port
        let second = GRPCServer(configuration: configuration, router: GRPCRouter(services: [SlowService()]))
        #expect(throws: (any Error).self) { try second.start() }
    }
}
