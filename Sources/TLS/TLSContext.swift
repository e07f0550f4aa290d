internal import COpenSSL
internal import COpenSSLShims

#if canImport(Glibc)
    import Glibc
#endif

/// A server TLS configuration (`SSL_CTX`): certificate chain, key, profile, ALPN `h2` required, and
/// optionally a CA for verifying client certificates (mTLS). Shared by all connections and loops.
public final class TLSContext: @unchecked Sendable {
    /// `SSL_CTX *`; immutable after init, so sharing across threads is safe (OpenSSL locks internally).
    let context: OpaquePointer

    /// Loads the PEM certificate chain and private key. Throws a message naming the file and the problem.
    public init(
        certificatePath: String, keyPath: String, profile: TLSProfile = .intermediate, clientCAPath: String? = nil
    ) throws(TLSError) {
        for (what, path) in [("certificate", certificatePath), ("private key", keyPath)]
            + (clientCAPath.map {
                [("client CA", $0)]
            } ?? [])
        {
            guard access(path, R_OK) == 0 else {
                let reason = String(cString: strerror(errno))
                throw TLSError("cannot read TLS \(what) '\(path)': \(reason)")
            }
        }
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw TLSError("cannot create a TLS context: \(Self.lastError())")
        }
        self.context = context
        _ = COpenSSLShims_SSL_CTX_set_options(context, COpenSSLShims_default_options())
        let minimum = profile == .modern ? COpenSSLShims_TLS1_3_VERSION() : COpenSSLShims_TLS1_2_VERSION()
        _ = COpenSSLShims_SSL_CTX_set_min_proto_version(context, minimum)
        _ = COpenSSLShims_SSL_CTX_set1_groups_list(context, "X25519:P-256:P-384")
        if profile == .intermediate {
            _ = SSL_CTX_set_cipher_list(context, TLSProfile.intermediateCiphers)
        }
        _ = COpenSSLShims_SSL_CTX_set_mode(context, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS))
        COpenSSLShims_require_alpn_h2(context)

        guard SSL_CTX_use_certificate_chain_file(context, certificatePath) == 1 else {
            throw TLSError("cannot use TLS certificate '\(certificatePath)': \(Self.lastError()) (expected PEM)")
        }
        guard SSL_CTX_use_PrivateKey_file(context, keyPath, SSL_FILETYPE_PEM) == 1 else {
            let reason = Self.lastError()
            if reason.contains("key values mismatch") {
                throw TLSError("TLS private key '\(keyPath)' does not match certificate '\(certificatePath)'")
            }
            throw TLSError("cannot use TLS private key '\(keyPath)': \(reason) (expected PEM)")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError(
                "TLS private key '\(keyPath)' does not match certificate '\(certificatePath)': \(Self.lastError())")
        }
        if let clientCAPath {
            guard SSL_CTX_load_verify_locations(context, clientCAPath, nil) == 1 else {
                throw TLSError("cannot load client CA '\(clientCAPath)': \(Self.lastError())")
            }
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
    }

    deinit { SSL_CTX_free(context) }

    /// The newest OpenSSL error as text; clears the thread's error queue.
    static func lastError() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        COpenSSLShims_last_error(&buffer, buffer.count)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? "unknown OpenSSL error" : text
    }
}
