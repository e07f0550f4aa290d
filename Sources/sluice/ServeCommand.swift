import ArgumentParser
import Auth
import ModelRegistry
import SluiceServer

#if canImport(Glibc)
    import Glibc
#endif

/// `sluice serve`: runs the gRPC server until SIGTERM/SIGINT.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gRPC server.",
        discussion: """
            Serves sluice.v1.Inference and grpc.health.v1.Health over HTTP/2. TLS is on when a certificate is \
            given; cleartext HTTP/2 needs an explicit --plaintext.

            Examples:
              certs/generate                  # once: dev CA and certificates in certs/dev/
              sluice serve --tls-cert certs/dev/server.pem \\
                           --tls-key certs/dev/server-key.pem
              sluice serve --plaintext --listen 127.0.0.1:50051 --threads 2
              sluice serve --config sluice.json --threads 4

            A JSON config file holds any of these keys (flags override it):
              {"listen": "0.0.0.0:50051", "threads": 2, "tlsCert": "cert.pem",
               "tlsKey": "key.pem", "tlsProfile": "intermediate", "clientCA": "ca.pem",
               "plaintext": false, "maxMessageBytes": 4194304,
               "drainTimeoutSeconds": 30, "idleTimeoutSeconds": 300, "handshakeTimeoutSeconds": 10,
               "requestBodyTimeoutSeconds": 60, "maxConcurrentStreams": 100,
               "maxHeaderListBytes": 8192}

            SIGTERM or SIGINT stops accepting, sends GOAWAY, lets calls in flight finish (up to --drain-timeout), \
            and exits 0. A second signal cuts the remaining calls.
            """
    )

    @Option(help: "Address to listen on, HOST:PORT or [IPv6]:PORT. (default: 127.0.0.1:50051)")
    var listen: String?

    @Option(help: "Event-loop threads. (default: one per CPU core)")
    var threads: Int?

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain; enables TLS (with --tls-key).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key of the certificate.")
    var tlsKey: String?

    @Option(name: .customLong("tls-profile"), help: "modern (TLS 1.3 only) or intermediate. (default: intermediate)")
    var tlsProfile: String?

    @Option(name: .customLong("client-ca"), help: "PEM CA: require client certificates it signed (mTLS).")
    var clientCA: String?

    @Flag(help: "Serve cleartext HTTP/2 (h2c) instead of TLS.")
    var plaintext = false

    @Option(name: .customLong("max-message-bytes"), help: "Largest request message in bytes. (default: 4194304)")
    var maxMessageBytes: Int?

    @Option(name: .customLong("drain-timeout"), help: "Seconds to let calls finish on shutdown. (default: 30)")
    var drainTimeout: Double?

    @Option(name: .customLong("idle-timeout"), help: "Seconds before an idle connection is closed. (default: 300)")
    var idleTimeout: Double?

    @Option(help: "JSON configuration file; flags override its values.")
    var config: String?

    @Option(help: "Model registry directory to serve (<dir>/<model>/<version>/model.onnx).")
    var models: String?

    @Option(name: .customLong("admin-listen"), help: "HOST:PORT for /metrics, /healthz and /readyz over HTTP/1.1.")
    var adminListen: String?

    @Option(
        name: .customLong("security-config"),
        help: "Security configuration (JWT keys, API keys, RBAC, rate limits, audit log); see docs/security.md.")
    var securityConfig: String?

    @Flag(name: .customLong("insecure-no-auth"), help: "Serve without authentication (development only).")
    var insecureNoAuth = false

    @OptionGroup(title: "Drift monitoring") var monitoring: MonitoringFlags

    func run() throws {
        do {
            var flags = ServerConfiguration()
            flags.listen = listen
            flags.threads = threads
            flags.tlsCert = tlsCert
            flags.tlsKey = tlsKey
            flags.tlsProfile = tlsProfile
            flags.clientCA = clientCA
            flags.plaintext = plaintext ? true : nil
            flags.maxMessageBytes = maxMessageBytes
            flags.drainTimeoutSeconds = drainTimeout
            flags.idleTimeoutSeconds = idleTimeout
            flags.models = models
            flags.adminListen = adminListen
            flags.securityConfig = securityConfig
            flags.insecureNoAuth = insecureNoAuth ? true : nil
            var base = ServerConfiguration()
            if let config { base = try ServerConfiguration.load(path: config) }
            let configuration = base.overridden(by: flags)
            let log: @Sendable (String) -> Void = { line in
                var text = line + "\n"
                text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            }
            var stack: InferenceStack?
            if let directory = configuration.models {
                let auth = try makeAuth(configuration, log: log)
                stack = try InferenceStack(
                    directory: directory, auth: auth, monitoring: try monitoring.configuration(), log: log)
            }
            let app = SluiceApplication(
                configuration: configuration, services: stack.map { [$0.api] } ?? [], healthGate: stack?.healthGate)
            try app.prepareSignals()
            if let stack {
                stack.start(health: app.health, log: log)
                log("sluice: serving models from \(configuration.models ?? "")")
                app.onReload = {
                    stack.registry.refresh()
                    if configuration.securityConfig != nil {
                        do {
                            try stack.auth.reload()
                            log("sluice: security configuration reloaded")
                        } catch { log("sluice: security configuration NOT reloaded (old one stays): \(error)") }
                    }
                }
            }
            if let adminListen = configuration.adminListen {
                if let stack {
                    let port = try stack.startAdmin(listen: adminListen, health: app.health)
                    let host = adminListen.split(separator: ":").first ?? "127.0.0.1"
                    log("sluice: admin listener on http://\(host):\(port)/metrics")
                } else {
                    throw ConfigurationError("--admin-listen needs --models (metrics describe the served models)")
                }
            }
            try app.run()
            stack?.stop()
        } catch {
            var text = "sluice: error: \(error)\n"
            text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            throw ExitCode(1)
        }
    }
}

/// The security layer the configuration asks for. Serving without authentication needs an explicit flag.
func makeAuth(_ configuration: ServerConfiguration, log: @escaping @Sendable (String) -> Void) throws -> AuthService {
    let insecure = configuration.insecureNoAuth ?? false
    switch (configuration.securityConfig, insecure) {
    case (let path?, false):
        let auth: AuthService
        do { auth = try AuthService(configPath: path) } catch {
            throw ConfigurationError("--security-config '\(path)': \(error)")
        }
        auth.startWatching { result in
            switch result {
            case .success: log("sluice: security configuration reloaded (file changed)")
            case .failure(let error): log("sluice: security configuration NOT reloaded (old one stays): \(error)")
            }
        }
        log("sluice: \(auth.modeDescription)")
        return auth
    case (nil, true):
        let auth = AuthService.insecure()
        log("sluice: WARNING: \(auth.modeDescription): every caller is allowed")
        return auth
    case (_?, true):
        throw ConfigurationError("--security-config and --insecure-no-auth exclude each other; choose one")
    case (nil, false):
        throw ConfigurationError(
            "no security configuration: pass --security-config FILE (see docs/security.md), or --insecure-no-auth to serve without authentication")
    }
}
