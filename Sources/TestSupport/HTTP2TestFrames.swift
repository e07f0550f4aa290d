/// Client-side HTTP/2 bytes for tests, built by hand (no library): frames, and header blocks encoded as HPACK
/// literals without indexing.
public enum HTTP2TestFrames {
    public static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    public static func frame(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8] = []) -> [UInt8] {
        let length = UInt32(payload.count)
        return [
            UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags,
            UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF),
            UInt8(stream & 0xFF),
        ] + payload
    }

    public static func settings() -> [UInt8] { frame(type: 4, flags: 0, stream: 0) }
    public static func settingsAck() -> [UInt8] { frame(type: 4, flags: 1, stream: 0) }

    /// HPACK integer with an N-bit prefix.
    public static func integer(_ value: Int, prefixBits: Int, firstByte: UInt8) -> [UInt8] {
        let limit = (1 << prefixBits) - 1
        if value < limit { return [firstByte | UInt8(value)] }
        var out = [firstByte | UInt8(limit)]
        var rest = value - limit
        while rest >= 128 {
            out.append(UInt8(rest & 0x7F | 0x80))
            rest >>= 7
        }
        out.append(UInt8(rest))
        return out
    }

    public static func headerBlock(_ fields: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in fields {
            out += [0x00]
            out += integer(name.utf8.count, prefixBits: 7, firstByte: 0) + Array(name.utf8)
            out += integer(value.utf8.count, prefixBits: 7, firstByte: 0) + Array(value.utf8)
        }
        return out
    }

    public static func requestHeaders(
        stream: UInt32, path: String, extra: [(String, String)] = [], endStream: Bool = false,
        contentType: String = "application/grpc"
    ) -> [UInt8] {
        let fields =
            [
                (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "localhost"),
                ("content-type", contentType), ("te", "trailers"),
            ] + extra
        return frame(type: 1, flags: 0x4 | (endStream ? 0x1 : 0), stream: stream, payload: headerBlock(fields))
    }

    public static func data(stream: UInt32, _ payload: [UInt8], endStream: Bool = true) -> [UInt8] {
        frame(type: 0, flags: endStream ? 0x1 : 0, stream: stream, payload: payload)
    }

    public static func grpcMessage(_ payload: [UInt8], compressed: Bool = false) -> [UInt8] {
        let n = UInt32(payload.count)
        return [compressed ? 1 : 0, UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)]
            + payload
    }

    /// One parsed server frame.
    public struct Frame {
        public let type: UInt8
        public let flags: UInt8
        public let stream: UInt32
        public let payload: [UInt8]
        public var endStream: Bool { flags & 0x1 != 0 }
    }

    public static func parse(_ bytes: [UInt8]) -> [Frame] {
        var frames: [Frame] = []
        var index = 0
        while bytes.count - index >= 9 {
            let length = Int(bytes[index]) << 16 | Int(bytes[index + 1]) << 8 | Int(bytes[index + 2])
            guard bytes.count - index - 9 >= length else { break }
            let stream =
                UInt32(bytes[index + 5] & 0x7F) << 24 | UInt32(bytes[index + 6]) << 16
                | UInt32(bytes[index + 7]) << 8 | UInt32(bytes[index + 8])
            frames.append(
                Frame(
                    type: bytes[index + 3], flags: bytes[index + 4], stream: stream,
                    payload: Array(bytes[(index + 9)..<(index + 9 + length)])))
            index += 9 + length
        }
        return frames
    }
}
