import FuzzDriver
import GRPCCore
import GRPCServer
import HTTP2
import NetCore

/// libFuzzer target: raw bytes from a client into one server connection — the libnghttp2 session
/// (``HTTP2Session``) and the delegate that answers it (``GRPCConnectionHandler``: header checks, the deframer,
/// gzip, dispatch, responses, trailers, resets, glitch counting and shutdown).
///
/// The client preface is prepended, so every input starts as a valid connection. The service echoes, fails, or
/// answers with a body larger than a DATA frame (so flow control and partial writes are exercised).
@main
enum FuzzHTTP2Session {
    static func main() { runLibFuzzer(LLVMFuzzerTestOneInput) }

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let router = GRPCRouter(services: [FuzzService()])
    static let configuration: GRPCServerConfiguration = {
        var configuration = GRPCServerConfiguration()
        configuration.maxMessageBytes = 1 << 16
        configuration.maxBufferedRequestBytesPerConnection = 1 << 18
        configuration.maxGlitchesPerConnection = 50
        return configuration
    }()
}

/// `fuzz.Echo`: `Say` echoes, `Fail` fails with a message that needs percent-encoding, `Big` answers 20 KB
/// (more than one DATA frame).
struct FuzzService: GRPCService {
    let serviceName = "fuzz.Echo"
    var methods: [UnaryMethod] {
        [
            // Raw copies: the generic `appendMessage(_:)` walks bytes one by one, which unoptimized ASan builds
            // make slow enough to dominate a run.
            UnaryMethod("Say") { request, _, response in
                response.appendMessage(count: request.count) { $0.copyMemory(from: request) }
                return .ok
            },
            UnaryMethod("Fail") { _, _, _ in .failure(RPCError(.invalidArgument, "bad 100% ✗\r\n")) },
            UnaryMethod("Big") { _, _, response in
                response.appendMessage(count: 20_000) { $0.initializeMemory(as: UInt8.self, repeating: 0x5a) }
                return .ok
            },
        ]
    }
}

/// One input. Byte 0 chooses the size of the reads the bytes arrive in (1...255 × 7) and the window the server
/// may write into per turn; the rest follows the client preface on the wire.
@_cdecl("LLVMFuzzerTestOneInput")
func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    guard let first = input.first else { return 0 }
    let chunk = Int(first & 0x3f) * 7 + 1
    let highWater = first & 0x40 != 0 ? 1 << 20 : 1024
    let shutdown = first & 0x80 != 0
    guard
        let handler = try? GRPCConnectionHandler(
            router: FuzzHTTP2Session.router, configuration: FuzzHTTP2Session.configuration, peer: "127.0.0.1:1")
    else { fatalError("the server session could not be created") }
    var now: UInt64 = 1_000_000_000
    handler.clock = { now }
    var output = ByteQueue()
    func turn(_ bytes: UnsafeRawBufferPointer) -> Bool {
        do {
            try handler.receive(bytes)
            try handler.produceOutput(into: &output, highWater: highWater)
        } catch {
            return false
        }
        output = ByteQueue()
        now += 1_000_000
        return !handler.isFinished
    }
    var alive = FuzzHTTP2Session.preface.withUnsafeBytes { turn($0) }
    let body = UnsafeRawBufferPointer(rebasing: input.dropFirst())
    var offset = 0
    while alive && offset < body.count {
        let end = min(body.count, offset + chunk)
        alive = turn(UnsafeRawBufferPointer(rebasing: body[offset..<end]))
        offset = end
    }
    if alive && shutdown {
        handler.beginGracefulShutdown()
        handler.finishGracefulShutdown()
        _ = try? handler.produceOutput(into: &output, highWater: 1 << 20)
    }
    handler.detach()
    return 0
}
