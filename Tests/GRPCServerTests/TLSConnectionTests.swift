import COpenSSL
import NetCore
import TLS
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Certificates made once per test run with the openssl CLI (a CA, a server cert for localhost, a client cert).
private enum TestCertificates {
    static let directory: String? = {
        let dir = "/tmp/sluice-tls-test-\(getpid())"
        let script = """
            set -e; mkdir -p \(dir); cd \(dir)
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=TestCA \
              -keyout ca-key.pem -out ca.pem
            printf 'subjectAltName=DNS:localhost\\n' > server.ext
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
              -keyout server-key.pem -out server.csr
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 1 \
              -extfile server.ext -out server.pem
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /O=Test/CN=client-one \
              -keyout client-key.pem -out client.csr
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 1 -out client.pem
            """
        // The directory lives as long as the test process: removed when it exits.
        atexit { _ = system("rm -rf /tmp/sluice-tls-test-\(getpid())") }
        return system("(\(script)) >/dev/null 2>&1") == 0 ? dir : nil
    }()
}

/// A TLS client on memory BIOs, driven against the server's `TLSConnection` without sockets.
private final class MemoryClient {
    let context: OpaquePointer
    let ssl: OpaquePointer
    let readBIO: OpaquePointer
    let writeBIO: OpaquePointer

    init(caPath: String, certificate: (String, String)?, alpn: [UInt8]) {
        let context = SSL_CTX_new(TLS_client_method())!
        SSL_CTX_load_verify_locations(context, caPath, nil)
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        if let (cert, key) = certificate {
            SSL_CTX_use_certificate_file(context, cert, SSL_FILETYPE_PEM)
            SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM)
        }
        _ = alpn.withUnsafeBufferPointer { SSL_CTX_set_alpn_protos(context, $0.baseAddress, UInt32($0.count)) }
        let ssl = SSL_new(context)!
        let readBIO = BIO_new(BIO_s_mem())!
        let writeBIO = BIO_new(BIO_s_mem())!
        SSL_set_bio(ssl, readBIO, writeBIO)
        SSL_set_connect_state(ssl)
        self.context = context
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    /// Ciphertext the client wants to send.
    func takeOutput() -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while BIO_ctrl_pending(writeBIO) > 0 {
            let n = chunk.withUnsafeMutableBytes { BIO_read(writeBIO, $0.baseAddress, Int32($0.count)) }
            if n <= 0 { break }
            out += chunk[0..<Int(n)]
        }
        return out
    }

    func give(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { BIO_write(readBIO, $0.baseAddress, Int32($0.count)) }
    }

    var handshakeDone: Bool { SSL_do_handshake(ssl) == 1 }

    var alpn: String {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data else { return "" }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }
}

/// Shuttles bytes between client and server until both are quiet; returns the server's plaintext.
@discardableResult
private func exchange(_ client: MemoryClient, _ server: TLSConnection, rounds: Int = 10) throws -> [UInt8] {
    var plaintext: [UInt8] = []
    for _ in 0..<rounds {
        _ = client.handshakeDone
        let toServer = client.takeOutput()
        toServer.withUnsafeBytes { server.receiveCiphertext($0) }
        _ = try server.readPlaintext { plaintext += $0 }
        var queue = ByteQueue()
        server.drainCiphertext(into: &queue)
        let toClient = queue.removeAll()
        client.give(toClient)
        if toServer.isEmpty && toClient.isEmpty { break }
    }
    return plaintext
}

@Suite("TLSConnection (sans-IO)", .serialized)
struct TLSConnectionTests {
    @Test func handshakeAlpnAndDataBothWays() throws {
        let dir = try #require(TestCertificates.directory, "openssl CLI needed to make test certificates")
        let context = try TLSContext(certificatePath: "\(dir)/server.pem", keyPath: "\(dir)/server-key.pem")
        let server = try TLSConnection(context: context)
        let client = MemoryClient(caPath: "\(dir)/ca.pem", certificate: nil, alpn: [2, 0x68, 0x32])
        try exchange(client, server)
        #expect(server.handshakeComplete)
        #expect(client.alpn == "h2")
        #expect(server.peerSubject == nil)

        let hello = Array("PRI * HTTP/2.0".utf8)
        _ = hello.withUnsafeBytes { SSL_write(client.ssl, $0.baseAddress, Int32($0.count)) }
        #expect(try exchange(client, server) == hello)

        try Array("pong".utf8).withUnsafeBytes { try server.writePlaintext($0) }
        var queue = ByteQueue()
        server.drainCiphertext(into: &queue)
        client.give(queue.removeAll())
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { SSL_read(client.ssl, $0.baseAddress, Int32($0.count)) }
        #expect(Array(buffer[0..<Int(max(n, 0))]) == Array("pong".utf8))
    }

    @Test func clientWithoutH2IsRefusedInTheHandshake() throws {
        let dir = try #require(TestCertificates.directory)
        let context = try TLSContext(certificatePath: "\(dir)/server.pem", keyPath: "\(dir)/server-key.pem")
        let server = try TLSConnection(context: context)
        let client = MemoryClient(caPath: "\(dir)/ca.pem", certificate: nil, alpn: [8] + Array("http/1.1".utf8))
        #expect(throws: TLSError.self) { try exchange(client, server) }
        #expect(!server.handshakeComplete)
    }

    @Test func mutualTLSExposesTheVerifiedSubject() throws {
        let dir = try #require(TestCertificates.directory)
        let context = try TLSContext(
            certificatePath: "\(dir)/server.pem", keyPath: "\(dir)/server-key.pem", clientCAPath: "\(dir)/ca.pem")
        let server = try TLSConnection(context: context)
        let client = MemoryClient(
            caPath: "\(dir)/ca.pem", certificate: ("\(dir)/client.pem", "\(dir)/client-key.pem"),
            alpn: [2, 0x68, 0x32])
        try exchange(client, server)
        #expect(server.handshakeComplete)
        #expect(server.peerSubject == "CN=client-one,O=Test")

        let anonymous = MemoryClient(caPath: "\(dir)/ca.pem", certificate: nil, alpn: [2, 0x68, 0x32])
        let strict = try TLSConnection(context: context)
        #expect(throws: TLSError.self) { try exchange(anonymous, strict) }
    }

    @Test func configurationErrorsNameTheFile() throws {
        let dir = try #require(TestCertificates.directory)
        #expect {
            try TLSContext(certificatePath: "\(dir)/missing.pem", keyPath: "\(dir)/server-key.pem")
        } throws: { error in
            "\(error)".contains("missing.pem") && "\(error)".contains("cannot read")
        }
        #expect {
            try TLSContext(certificatePath: "\(dir)/server.pem", keyPath: "\(dir)/client-key.pem")
        } throws: { error in
            "\(error)".contains("does not match")
        }
        #expect {
            try TLSContext(certificatePath: "\(dir)/server.csr", keyPath: "\(dir)/server-key.pem")
        } throws: { error in
            "\(error)".contains("server.csr")
        }
    }
}
