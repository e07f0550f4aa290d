internal import COpenSSL
internal import COpenSSLShims
public import NetCore

/// One server-side TLS session over memory BIOs, sans-IO: ciphertext in (``receiveCiphertext(_:)``),
/// plaintext out (``readPlaintext(_:)``), plaintext in (``writePlaintext(_:)``), ciphertext out
/// (``drainCiphertext(into:)``). The handshake runs inside these calls.
public final class TLSConnection {
    /// What reading plaintext found.
    public enum ReadResult: Equatable, Sendable {
        /// Everything available was delivered; feed more ciphertext.
        case needMoreData
        /// The peer sent close_notify.
        case closed
    }

    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    /// Kept alive for the lifetime of `ssl`.
    private let context: TLSContext
    public private(set) var handshakeComplete = false

    public init(context: TLSContext) throws(TLSError) {
        guard let ssl = SSL_new(context.context) else { throw TLSError("SSL_new failed: \(TLSContext.lastError())") }
        guard let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError("BIO_new failed")
        }
        // A drained memory BIO must report "retry" rather than EOF.
        _ = BIO_ctrl(readBIO, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nil)
        _ = BIO_ctrl(writeBIO, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nil)
        SSL_set_bio(ssl, readBIO, writeBIO)  // ssl owns both BIOs now
        SSL_set_accept_state(ssl)
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        self.context = context
    }

    deinit { SSL_free(ssl) }

    /// Hands received ciphertext to OpenSSL.
    public func receiveCiphertext(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var written = 0
        _ = BIO_write_ex(readBIO, base, bytes.count, &written)
    }

    /// Advances the handshake and delivers all decrypted plaintext to `deliver`. Throws on a TLS failure
    /// (the caller should still send what ``drainCiphertext(into:)`` produces: it may hold an alert).
    public func readPlaintext(_ deliver: (UnsafeRawBufferPointer) throws -> Void) throws -> ReadResult {
        if !handshakeComplete {
            let rc = SSL_do_handshake(ssl)
            if rc != 1 {
                let error = SSL_get_error(ssl, rc)
                if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE { return .needMoreData }
                throw TLSError("TLS handshake failed: \(TLSContext.lastError())")
            }
            handshakeComplete = true
        }
        return try withUnsafeTemporaryAllocation(byteCount: 16_384, alignment: 8) { buffer throws -> ReadResult in
            while true {
                var read = 0
                let rc = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &read)
                if rc == 1 {
                    try deliver(UnsafeRawBufferPointer(rebasing: buffer[0..<read]))
                    continue
                }
                let error = SSL_get_error(ssl, rc)
                switch error {
                case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .needMoreData
                case SSL_ERROR_ZERO_RETURN: return .closed
                default: throw TLSError("TLS read failed: \(TLSContext.lastError())")
                }
            }
        }
    }

    /// Encrypts `bytes` (all of them: the memory BIO grows as needed).
    public func writePlaintext(_ bytes: UnsafeRawBufferPointer) throws(TLSError) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var offset = 0
        while offset < bytes.count {
            var written = 0
            let rc = SSL_write_ex(ssl, base + offset, bytes.count - offset, &written)
            guard rc == 1 else { throw TLSError("TLS write failed: \(TLSContext.lastError())") }
            offset += written
        }
    }

    /// Moves pending ciphertext (handshake records, alerts, encrypted data) into `queue`.
    public func drainCiphertext(into queue: inout ByteQueue) {
        while BIO_ctrl_pending(writeBIO) > 0 {
            var moved = 0
            let ok = withUnsafeTemporaryAllocation(byteCount: 16_384, alignment: 8) { buffer -> Bool in
                guard BIO_read_ex(writeBIO, buffer.baseAddress, buffer.count, &moved) == 1, moved > 0 else {
                    return false
                }
                queue.append(buffer.baseAddress!, count: moved)
                return true
            }
            if !ok { return }
        }
    }

    /// Queues a close_notify alert.
    public func shutdown() { _ = SSL_shutdown(ssl) }

    /// The verified client certificate's subject (mTLS), if one was presented.
    public var peerSubject: String? {
        var buffer = [CChar](repeating: 0, count: 512)
        guard COpenSSLShims_peer_subject(ssl, &buffer, buffer.count) == 1 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
