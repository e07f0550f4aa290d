internal import COpenSSL
internal import COpenSSLShims

#if canImport(Glibc)
    import Glibc
#endif

/// A client TLS configuration: the CA that verifies servers (or the system's), an optional client certificate
/// (mTLS), ALPN `h2`, TLS 1.2 or newer.
public final class TLSClientContext: @unchecked Sendable {
    /// `SSL_CTX *`; immutable after init.
    let context: OpaquePointer

    /// - Parameters:
    ///   - caPath: PEM CA certificates that sign the servers' certificates; `nil` uses the system's store.
    ///   - certificatePath, keyPath: a client certificate chain and its key, for servers that require mTLS.
    public init(caPath: String?, certificatePath: String? = nil, keyPath: String? = nil) throws(TLSError) {
        for (what, path) in [("CA", caPath), ("client certificate", certificatePath), ("client key", keyPath)] {
            guard let path else { continue }
            guard access(path, R_OK) == 0 else {
                throw TLSError("cannot read TLS \(what) '\(path)': \(String(cString: strerror(errno)))")
            }
        }
        guard (certificatePath == nil) == (keyPath == nil) else {
            throw TLSError("a client certificate needs its key and a key its certificate (give both)")
        }
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw TLSError("cannot create a TLS context: \(TLSContext.lastError())")
        }
        self.context = context
        _ = COpenSSLShims_SSL_CTX_set_min_proto_version(context, COpenSSLShims_TLS1_2_VERSION())
        let alpn: [UInt8] = [2, 0x68, 0x32]  // "h2"
        guard SSL_CTX_set_alpn_protos(context, alpn, UInt32(alpn.count)) == 0 else {
            throw TLSError("cannot offer ALPN h2: \(TLSContext.lastError())")
        }
        if let caPath {
            guard SSL_CTX_load_verify_locations(context, caPath, nil) == 1 else {
                throw TLSError("cannot load CA '\(caPath)': \(TLSContext.lastError()) (expected PEM)")
            }
        } else {
            _ = SSL_CTX_set_default_verify_paths(context)
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let certificatePath, let keyPath {
            guard SSL_CTX_use_certificate_chain_file(context, certificatePath) == 1 else {
                throw TLSError("cannot use client certificate '\(certificatePath)': \(TLSContext.lastError())")
            }
            guard SSL_CTX_use_PrivateKey_file(context, keyPath, SSL_FILETYPE_PEM) == 1,
                SSL_CTX_check_private_key(context) == 1
            else {
                throw TLSError("cannot use client key '\(keyPath)': \(TLSContext.lastError())")
            }
        }
    }

    deinit { SSL_CTX_free(context) }
}

/// A blocking client TLS session on a connected socket: the handshake verifies the server's certificate
/// against the context's CA and `serverName` (a DNS name or an IP address), and requires ALPN `h2`.
public final class TLSClientStream {
    private let ssl: OpaquePointer
    private let context: TLSClientContext

    /// Runs the handshake on `fd` (a connected, blocking socket).
    public init(context: TLSClientContext, fd: Int32, serverName: String) throws(TLSError) {
        guard let ssl = SSL_new(context.context) else { throw TLSError("SSL_new failed: \(TLSContext.lastError())") }
        self.ssl = ssl
        self.context = context
        var isAddress = in6_addr()
        let numeric =
            inet_pton(AF_INET, serverName, &isAddress) == 1 || inet_pton(AF_INET6, serverName, &isAddress) == 1
        if !numeric { _ = COpenSSLShims_SSL_set_tlsext_host_name(ssl, serverName) }
        guard SSL_set1_host(ssl, serverName) == 1 else {
            throw TLSError("cannot verify against the name '\(serverName)': \(TLSContext.lastError())")
        }
        guard SSL_set_fd(ssl, fd) == 1 else { throw TLSError("SSL_set_fd failed: \(TLSContext.lastError())") }
        guard SSL_connect(ssl) == 1 else {
            let verify = SSL_get_verify_result(ssl)
            if verify != Int(X509_V_OK) {
                let reason = String(cString: X509_verify_cert_error_string(verify))
                throw TLSError("the server's certificate was not accepted for '\(serverName)': \(reason)")
            }
            throw TLSError("TLS handshake with \(serverName) failed: \(TLSContext.lastError())")
        }
        var selected: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &selected, &length)
        guard length == 2, let selected, selected[0] == 0x68, selected[1] == 0x32 else {
            throw TLSError("the server at \(serverName) did not agree to HTTP/2 (ALPN h2)")
        }
    }

    deinit { SSL_free(ssl) }

    /// Reads decrypted bytes into `buffer`; 0 at the end of the stream. Throws on a TLS or socket error
    /// (including the socket's receive timeout).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> Int {
        var count = 0
        let rc = SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count)
        if rc == 1 { return count }
        let error = SSL_get_error(ssl, rc)
        if error == SSL_ERROR_ZERO_RETURN { return 0 }
        if error == SSL_ERROR_SYSCALL && errno == 0 { return 0 }
        throw TLSError(
            "TLS read failed: \(error == SSL_ERROR_SYSCALL ? String(cString: strerror(errno)) : TLSContext.lastError())"
        )
    }

    /// Encrypts and sends all of `bytes`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(TLSError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            var written = 0
            guard SSL_write_ex(ssl, base + offset, bytes.count - offset, &written) == 1 else {
                throw TLSError("TLS write failed: \(TLSContext.lastError())")
            }
            offset += written
        }
    }

    /// Sends close_notify.
    public func close() { _ = SSL_shutdown(ssl) }
}
