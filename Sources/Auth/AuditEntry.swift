/// The queued form of one audit record: a fixed header and eight length-prefixed byte fields, copied into the
/// audit queue by the calling thread (a `memcpy` per field, no `String` retained) and turned into a JSON line by
/// the writer thread (`AuditEntryView.appendJSONLine`).
///
/// Layout (native byte order, no alignment):
///
///     0  UInt32  total length        8  Double  time (s since epoch)    32  UInt16 × 8  field lengths
///     4  UInt16  gRPC status        16  Int64   latency (µs)            48  field bytes
///     6  UInt8   flags (1 allowed, 2 has version)   24  Int64  version
///
/// Fields: request id, identity (a pre-escaped JSON fragment `"principal":…,"auth_method":…,"credential_id":…`),
/// peer, rpc, model, selector, variant, reason. Every field but the identity is cut at `fieldLimit` bytes (a
/// model name or request id is caller-controlled); the writer repairs a UTF-8 sequence the cut split.
enum AuditEntry {
    static let headerSize = 48
    static let fieldCount = 8
    /// Longest field kept, in bytes.
    static let fieldLimit = 1024

    static let allowedFlag: UInt8 = 1
    static let versionFlag: UInt8 = 2

    static let oversizedIdentity = Array(#""principal":"","auth_method":"none","credential_id":"""#.utf8)

    @inline(__always)
    static func length(_ s: String) -> Int { min(s.utf8.count, fieldLimit) }

    /// Copies the first `n` UTF-8 bytes of `s` to `destination`.
    @inline(__always)
    static func copy(_ s: String, _ n: Int, to destination: UnsafeMutableRawPointer) {
        guard n > 0 else { return }
        let copied: Void? = s.utf8.withContiguousStorageIfAvailable {
            destination.copyMemory(from: $0.baseAddress!, byteCount: n)
        }
        if copied == nil {
            var k = 0
            for b in s.utf8 where k < n {
                destination.storeBytes(of: b, toByteOffset: k, as: UInt8.self)
                k += 1
            }
        }
    }

    /// Appends one entry to `queue`.
    @inline(__always)
    static func append(
        to queue: inout AuditBytes, time: Double, requestID: String, identity: [UInt8], peer: String, rpc: String,
        model: String, selector: String, version: Int64?, variant: String, allowed: Bool, reason: String,
        grpcStatus: Int, latencyMicros: Int64
    ) {
        // An identity made by `identity(principal:method:credentialID:)` is at most ~12 KiB; anything else is
        // replaced rather than cut (a cut fragment would not be JSON).
        let identity = identity.count <= Int(UInt16.max) ? identity : oversizedIdentity
        let lengths = (
            length(requestID), identity.count, length(peer), length(rpc), length(model), length(selector),
            length(variant), length(reason)
        )
        let total =
            headerSize + lengths.0 + lengths.1 + lengths.2 + lengths.3 + lengths.4 + lengths.5 + lengths.6
            + lengths.7
        queue.reserve(total)
        let start = queue.count
        queue.store(UInt32(total), at: start)
        queue.store(UInt16(clamping: grpcStatus), at: start + 4)
        queue.store((allowed ? allowedFlag : 0) | (version != nil ? versionFlag : 0), at: start + 6)
        queue.store(time, at: start + 8)
        queue.store(latencyMicros, at: start + 16)
        queue.store(version ?? 0, at: start + 24)
        queue.store(
            (
                UInt16(lengths.0), UInt16(lengths.1), UInt16(lengths.2), UInt16(lengths.3), UInt16(lengths.4),
                UInt16(lengths.5), UInt16(lengths.6), UInt16(lengths.7)
            ), at: start + 32)
        var p = queue.base + start + headerSize
        func put(_ s: String, _ n: Int) {
            copy(s, n, to: p)
            p += n
        }
        put(requestID, lengths.0)
        identity.withUnsafeBytes { if lengths.1 > 0 { p.copyMemory(from: $0.baseAddress!, byteCount: lengths.1) } }
        p += lengths.1
        put(peer, lengths.2)
        put(rpc, lengths.3)
        put(model, lengths.4)
        put(selector, lengths.5)
        put(variant, lengths.6)
        put(reason, lengths.7)
        queue.commit(total)
    }
}

/// Reads one queued entry (see `AuditEntry`).
struct AuditEntryView {
    let base: UnsafeRawPointer

    var length: Int { Int(base.loadUnaligned(as: UInt32.self)) }
    var grpcStatus: UInt16 { base.loadUnaligned(fromByteOffset: 4, as: UInt16.self) }
    var allowed: Bool { base.load(fromByteOffset: 6, as: UInt8.self) & AuditEntry.allowedFlag != 0 }
    var version: Int64? {
        base.load(fromByteOffset: 6, as: UInt8.self) & AuditEntry.versionFlag != 0
            ? base.loadUnaligned(fromByteOffset: 24, as: Int64.self) : nil
    }
    var time: Double { base.loadUnaligned(fromByteOffset: 8, as: Double.self) }
    var latencyMicros: Int64 { base.loadUnaligned(fromByteOffset: 16, as: Int64.self) }

    /// The fields in order (request id, identity, peer, rpc, model, selector, variant, reason), one per call.
    var fields: Fields { Fields(entry: base) }

    struct Fields {
        let entry: UnsafeRawPointer
        private var index = 0
        private var cursor: UnsafeRawPointer

        init(entry: UnsafeRawPointer) {
            self.entry = entry
            cursor = entry + AuditEntry.headerSize
        }

        mutating func next() -> UnsafeRawBufferPointer {
            let n = Int(entry.loadUnaligned(fromByteOffset: 32 + 2 * index, as: UInt16.self))
            let field = UnsafeRawBufferPointer(start: cursor, count: n)
            cursor += n
            index += 1
            return field
        }
    }
}
