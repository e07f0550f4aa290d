import ArgumentParser
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
              certs/generate      # once: development CA and certificates in certs/dev/
              sluice serve --tls-cert certs/dev/server.pem --tls-key certs/dev/server-key.pem
              sluice serve --plaintext --listen 127.0.0.1:50051 --threads 2

            Settings can also come from a JSON file (--config); flags override it. Keys: listen, threads, \
            tlsCert, tlsKey, tlsProfile, clientCA, plaintext, maxMessageBytes, drainTimeoutSeconds, \
            idleTimeoutSeconds, maxConcurrentStreams, maxHeaderListBytes.

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
            var base = ServerConfiguration()
            if let config { base = try ServerConfiguration.load(path: config) }
            let configuration = base.overridden(by: flags)
            let log: @Sendable (String) -> Void = { line in
                var text = line + "\n"
                text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            }
            var stack: InferenceStack?
            if let directory = configuration.models {
                stack = try InferenceStack(directory: directory, log: log)
            }
            let app = SluiceApplication(configuration: configuration, services: stack.map { [$0.api] } ?? [])
            try app.prepareSignals()
            if let stack {
                stack.start(health: app.health, log: log)
                log("sluice: serving models from \(configuration.models ?? "")")
                app.onReload = { stack.registry.refresh() }
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
