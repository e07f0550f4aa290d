import FuzzDriver
import GRPCCore

/// libFuzzer target: arbitrary bytes as a gRPC request body, fed to ``MessageDeframer`` in chunks whose size
/// comes from the input, through both the copying and the in-place read paths.
@main
enum FuzzGRPCDeframer {
    static func main() { runLibFuzzer(LLVMFuzzerTestOneInput) }
}

/// One input. Byte 0 chooses the chunk size (1...255) and the read path; the rest is the request body.
@_cdecl("LLVMFuzzerTestOneInput")
func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    guard let first = input.first else { return 0 }
    let chunk = Int(first & 0x7f) * 2 + 1
    let inPlace = first & 0x80 != 0
    let body = UnsafeRawBufferPointer(rebasing: input.dropFirst())
    let limit = 4096
    var deframer = MessageDeframer(maxMessageBytes: limit)
    var offset = 0
    do {
        while offset < body.count {
            let end = min(body.count, offset + chunk)
            try deframer.append(UnsafeRawBufferPointer(rebasing: body[offset..<end]))
            offset = end
            if inPlace {
                while let count = try deframer.withNextMessage({ _, payload in payload.count }) {
                    if count > limit { fatalError("message of \(count) bytes passed the \(limit)-byte limit") }
                }
            } else {
                while let message = try deframer.next() {
                    if message.payload.count > limit { fatalError("message over the limit passed") }
                }
            }
        }
        try deframer.finish()
    } catch {}
    return 0
}
