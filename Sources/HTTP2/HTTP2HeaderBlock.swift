internal import CNGHTTP2

/// A list of header fields laid out once as `nghttp2_nv` entries.
///
/// A *persistent* block (the static response headers, `grpc-status: 0`) is handed to nghttp2 with its
/// no-copy flags, so it must outlive every frame submitted with it; keep such blocks for the server's
/// lifetime. A non-persistent block is copied by nghttp2 when submitted and may be dropped afterwards.
public final class HTTP2HeaderBlock: @unchecked Sendable {
    let fields: UnsafeMutablePointer<nghttp2_nv>
    let count: Int
    private let storage: UnsafeMutableRawPointer

    /// Lays out `fields` (names must be lower-case).
    public init(_ headers: [(name: String, value: String)], persistent: Bool) {
        count = headers.count
        let total = headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count } + 1
        storage = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 1)
        fields = UnsafeMutablePointer<nghttp2_nv>.allocate(capacity: max(1, headers.count))
        let flags =
            persistent
            ? UInt8(NGHTTP2_NV_FLAG_NO_COPY_NAME.rawValue | NGHTTP2_NV_FLAG_NO_COPY_VALUE.rawValue)
            : UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)
        var offset = 0
        for (index, header) in headers.enumerated() {
            let namePointer = (storage + offset).assumingMemoryBound(to: UInt8.self)
            for byte in header.name.utf8 {
                storage.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
                offset += 1
            }
            let valuePointer = (storage + offset).assumingMemoryBound(to: UInt8.self)
            for byte in header.value.utf8 {
                storage.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
                offset += 1
            }
            fields[index] = nghttp2_nv(
                name: namePointer, value: valuePointer, namelen: header.name.utf8.count,
                valuelen: header.value.utf8.count, flags: flags)
        }
    }

    deinit {
        fields.deallocate()
        storage.deallocate()
    }
}
