internal import CNGHTTP2

/// An HPACK decoder (nghttp2's inflater) for reading header blocks of one direction of a connection.
/// The server does not need it (its session decodes requests); tests and tools use it to read responses.
public final class HPACKDecoder {
    private var inflater: OpaquePointer?

    public init() {
        var created: OpaquePointer?
        if nghttp2_hd_inflate_new(&created) == 0 { inflater = created }
    }

    deinit { if let inflater { nghttp2_hd_inflate_del(inflater) } }

    /// Decodes one complete header block (the payload of HEADERS plus any CONTINUATIONs, no padding).
    public func decode(_ block: [UInt8]) throws(HTTP2Error) -> [(name: String, value: String)] {
        guard let inflater else { throw HTTP2Error(code: Int(NGHTTP2_ERR_NOMEM.rawValue)) }
        var fields: [(name: String, value: String)] = []
        var result: Result<Void, HTTP2Error> = .success(())
        block.withUnsafeBufferPointer { buffer in
            var offset = 0
            while true {
                var field = nghttp2_nv()
                var flags: Int32 = 0
                let used = nghttp2_hd_inflate_hd2(
                    inflater, &field, &flags, buffer.baseAddress.map { $0 + offset }, buffer.count - offset, 1)
                if used < 0 {
                    result = .failure(HTTP2Error(code: used))
                    return
                }
                offset += used
                if flags & Int32(NGHTTP2_HD_INFLATE_EMIT.rawValue) != 0 {
                    fields.append(
                        (
                            String(
                                decoding: UnsafeBufferPointer(start: field.name, count: field.namelen), as: UTF8.self),
                            String(
                                decoding: UnsafeBufferPointer(start: field.value, count: field.valuelen), as: UTF8.self)
                        ))
                }
                if flags & Int32(NGHTTP2_HD_INFLATE_FINAL.rawValue) != 0 {
                    nghttp2_hd_inflate_end_headers(inflater)
                    return
                }
                if used == 0 && offset == buffer.count { return }
            }
        }
        try result.get()
        return fields
    }
}
