import FoundationEssentials
import HTTPServer
public import InferenceService

/// The Open Inference Protocol REST port (`--http-listen`): an ``HTTPServer`` (libmicrohttpd on its own NetCore
/// loop thread) whose handler is ``OpenInferenceREST``.
///
/// It takes the gRPC port's certificate and key (HTTPS through libmicrohttpd's GnuTLS), its body bound
/// (`maxMessageBytes`), header bound (`maxHeaderListBytes`) and connection cap (`maxConnections`), and its own
/// idle timeout (`httpIdleTimeoutSeconds`).
public final class RESTListener: @unchecked Sendable {
    private let server: HTTPServer
    /// Whether the listener speaks HTTPS.
    public let usesTLS: Bool

    /// Prepares the listener on `listen` (HOST:PORT) for `api`; ``start()`` binds it.
    public init(
        listen: String, configuration: ServerConfiguration, api: InferenceAPI, health: HealthStatusTable
    ) throws(ConfigurationError) {
        let (host, port) = try Self.parse(listen)
        var tls: (certificatePEM: String, keyPEM: String)?
        if configuration.plaintext != true, let certPath = configuration.tlsCert, let keyPath = configuration.tlsKey {
            if configuration.clientCA != nil {
                throw ConfigurationError(
                    "--http-listen does not support client certificates (--client-ca); use bearer tokens or API keys on the REST port, or serve it without --client-ca")
            }
            tls = (try Self.read(certPath, "--tls-cert"), try Self.read(keyPath, "--tls-key"))
        }
        usesTLS = tls != nil
        let rest = OpenInferenceREST(api: api, health: health, serverVersion: VersionReport.sluice)
        let maxHeader = configuration.maxHeaderListBytes ?? 8192
        server = HTTPServer(
            configuration: HTTPServerConfiguration(
                host: host, port: port, maxBodyBytes: configuration.maxMessageBytes ?? 4 << 20,
                // libmicrohttpd's per-connection pool holds the request line and headers plus its read buffer.
                maxHeaderBytes: maxHeader + 8192, maxConnections: configuration.maxConnections ?? 10_000,
                idleTimeoutSeconds: configuration.httpIdleTimeoutSeconds ?? 30, tls: tls, threadName: "sluice-rest"),
            handler: { request in
                let answer = rest.handle(
                    method: request.method, path: request.path, body: request.body, peer: request.peer,
                    header: { request.header($0) })
                return HTTPResponse(
                    status: answer.status, contentType: answer.contentType, headers: answer.headers, body: answer.body)
            })
    }

    /// Binds and starts serving; returns the bound port.
    public func start() throws(ConfigurationError) -> Int {
        do { try server.start() } catch { throw ConfigurationError("--http-listen: \(error)") }
        return server.port
    }

    /// Re-reads the certificate and key files (SIGHUP): new connections get the new pair, open ones keep theirs;
    /// on any error the old pair stays. `log` receives one line either way (on the listener's thread).
    public func reloadCertificate(configuration: ServerConfiguration, log: @escaping @Sendable (String) -> Void) {
        guard usesTLS, let certPath = configuration.tlsCert, let keyPath = configuration.tlsKey else { return }
        let certificate: String
        let key: String
        do {
            certificate = try Self.read(certPath, "--tls-cert")
            key = try Self.read(keyPath, "--tls-key")
        } catch {
            return log("sluice: SIGHUP: the REST listener keeps its TLS certificate: \(error.message)")
        }
        server.replaceTLS(certificatePEM: certificate, keyPEM: key) { problem in
            if let problem {
                log("sluice: SIGHUP: the REST listener keeps its TLS certificate: \(problem)")
            } else {
                log("sluice: SIGHUP: reloaded the REST listener's TLS certificate \(certPath)")
            }
        }
    }

    /// Closes the listener and its connections.
    public func stop() { server.stop() }

    private static func parse(_ listen: String) throws(ConfigurationError) -> (String, Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw ConfigurationError("--http-listen '\(listen)': expected HOST:PORT, e.g. 127.0.0.1:8000")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" { host = "127.0.0.1" }
        return (host, port)
    }

    private static func read(_ path: String, _ flag: String) throws(ConfigurationError) -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigurationError("\(flag) '\(path)': cannot read it for the REST listener: \(osReason(path))")
        }
        return text
    }
}
