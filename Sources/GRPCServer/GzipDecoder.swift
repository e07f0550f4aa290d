internal import CZlib

/// Inflates a `grpc-encoding: gzip` message with zlib, refusing output beyond a limit (a zip bomb gets
/// RESOURCE_EXHAUSTED instead of memory).
enum GzipDecoder {
    enum Failure: Error, Equatable {
        case corrupt(String)
        case tooLarge(limit: Int)
    }

    static func inflate(_ input: UnsafeRawBufferPointer, limit: Int) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        // windowBits 31 = 15 + 16: gzip header and trailer expected.
        guard inflateInit2_(&stream, 31, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corrupt("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: min(max(input.count * 4, 256), limit + 1))
        var produced = 0
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        while true {
            if produced == output.count {
                guard output.count <= limit else { throw .tooLarge(limit: limit) }
                output.append(contentsOf: repeatElement(0, count: min(output.count, limit + 1 - output.count)))
            }
            let status = output.withUnsafeMutableBufferPointer { buffer -> Int32 in
                stream.next_out = buffer.baseAddress! + produced
                stream.avail_out = uInt(buffer.count - produced)
                let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                produced = buffer.count - Int(stream.avail_out)
                return status
            }
            if produced > limit { throw .tooLarge(limit: limit) }
            switch status {
            case Z_STREAM_END:
                output.removeSubrange(produced...)
                return output
            case Z_OK:
                if stream.avail_in == 0 && produced < output.count { throw .corrupt("gzip data is truncated") }
            case Z_BUF_ERROR:
                if stream.avail_in == 0 { throw .corrupt("gzip data is truncated") }
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw .corrupt(reason)
            }
        }
    }
}
