import ArgumentParser
import Auth
import ModelRegistry
import SluiceServer

#if canImport(Glibc)
    import Glibc
#endif

/// `sluice serve`: runs the gRPC server until SIGTERM/SIGINT.
///
/// Most flags map onto ``ServerConfiguration`` keys (listed in the discussion below); a flag that is not given
/// leaves the config file's value, and a key the file does not set leaves the built-in default.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gRPC server.",
        discussion: """
            Serves sluice.v1.Inference, grpc.health.v1.Health (Check and Watch) and gRPC server reflection \
            (grpc.reflection.v1 and v1alpha) over HTTP/2. TLS is on when a certificate is \
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
               "maxHeaderListBytes": 8192, "models": "registry",
               "adminListen": "127.0.0.1:9090", "securityConfig": "security.json",
               "insecureNoAuth": false, "maxConnections": 10000, "maxInflightCallsPerThread": 4096,
               "offloadMinRequestBytes": 65536, "workerPriority": "idle",
               "maxAuthFailuresPerConnection": 100,
               "maxSignatureChecksPerSecond": 100, "maxWatchStreamsPerConnection": 16,
               "cacheDir": "/var/cache/sluice", "cacheMaxBytes": 1073741824, "mlflowCA": "ca.pem",
               "httpListen": "127.0.0.1:8000", "httpIdleTimeoutSeconds": 30,
               "metricsRequireCredential": false,
               "monitoring": true, "monitorWindowRequests": 10000, "monitorWindowSeconds": 3600,
               "monitorIntervalSeconds": 10, "monitorPsiWarn": 0.1, "monitorPsiDrift": 0.25,
               "monitorMinRequests": 100, "monitorMaxFeatures": 50, "monitorBatchStride": 64,
               "monitorSnapshotSeconds": 60}
            Every flag and key is described in docs/configuration.md.

            SIGTERM or SIGINT stops accepting, sends GOAWAY, lets calls in flight finish (up to --drain-timeout), \
            and exits 0. A second signal cuts the remaining calls.
            """
    )

    /// Config key `listen`. Like every optional flag here, `nil` means "not given": the config file's value, else the
    /// built-in default, applies.
    @Option(help: "Address to listen on, HOST:PORT or [IPv6]:PORT. (default: 127.0.0.1:50051)")
    var listen: String?

    /// Config key `threads`: the number of event-loop threads.
    @Option(help: "Event-loop threads. (default: one per CPU core)")
    var threads: Int?

    /// Config key `tlsCert`; TLS needs it together with `--tls-key`, and serving without either needs `--plaintext`.
    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain; enables TLS (with --tls-key).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key of the certificate.")
    var tlsKey: String?

    /// Config key `tlsProfile`: `modern` or `intermediate`.
    @Option(name: .customLong("tls-profile"), help: "modern (TLS 1.3 only) or intermediate. (default: intermediate)")
    var tlsProfile: String?

    /// Config key `clientCA`: with it, the TLS handshake requires a client certificate signed by this CA (mTLS).
    @Option(name: .customLong("client-ca"), help: "PEM CA: require client certificates it signed (mTLS).")
    var clientCA: String?

    /// Config key `plaintext`. `false` means "not given" (the config file may still ask for cleartext).
    @Flag(help: "Serve cleartext HTTP/2 (h2c) instead of TLS.")
    var plaintext = false

    /// Config key `maxMessageBytes`: the largest request message, in bytes.
    @Option(name: .customLong("max-message-bytes"), help: "Largest request message in bytes. (default: 4194304)")
    var maxMessageBytes: Int?

    /// Config key `drainTimeoutSeconds`: how long a shutdown waits for calls in flight, in seconds.
    @Option(name: .customLong("drain-timeout"), help: "Seconds to let calls finish on shutdown. (default: 30)")
    var drainTimeout: Double?

    /// Config key `idleTimeoutSeconds`, in seconds.
    @Option(name: .customLong("idle-timeout"), help: "Seconds before an idle connection is closed. (default: 300)")
    var idleTimeout: Double?

    /// Config key `maxConnections`: the limit over all event-loop threads together.
    @Option(
        name: .customLong("max-connections"),
        help: "Open connections accepted in all; more are refused at once (GOAWAY). (default: 10000)")
    var maxConnections: Int?

    /// Config key `maxInflightCallsPerThread`: calls of one event-loop thread running on worker threads at once.
    @Option(
        name: .customLong("max-inflight-per-thread"),
        help: "Calls each event-loop thread keeps in flight off its thread; more get RESOURCE_EXHAUSTED. (default: 4096)")
    var maxInflightPerThread: Int?

    /// Config key `offloadMinRequestBytes`, in bytes; smaller requests run on the event-loop thread itself.
    @Option(
        name: .customLong("offload-min-bytes"),
        help: "Requests of at least this many bytes run on worker threads, off the event loop; 0 turns it off. (default: 65536)")
    var offloadMinBytes: Int?

    /// Config key `workerPriority`: a nice increment `0`-`19` or `idle`.
    @Option(
        name: .customLong("worker-priority"),
        help: "How much lower than the event loops the worker threads run: a nice increment 0-19 relative to the server's own, or 'idle' (SCHED_IDLE: runs only when no loop wants the core). (default: idle)")
    var workerPriority: String?

    /// Keeps code pages mapped; `false` releases them after start-up and after each model load.
    @Flag(
        name: .customLong("keep-code-pages"),
        help: "Keep code that ran once (start-up, model loading) mapped instead of releasing it after start-up and after each model load; for uprobes (bpftrace) attached to the binary, which a release removes. Costs about 8 MB of RSS.")
    var keepCodePages = false

    /// Config key `maxAuthFailuresPerConnection`.
    @Option(
        name: .customLong("max-auth-failures-per-connection"),
        help: "Calls with bad credentials a connection may make before it is closed (GOAWAY). (default: 100)")
    var maxAuthFailuresPerConnection: Int?

    /// Config key `maxSignatureChecksPerSecond`: bounds the CPU one connection can spend verifying new tokens.
    @Option(
        name: .customLong("max-signature-checks-per-second"),
        help: "Signature checks of new tokens one connection may cause per second (also the burst); more get RESOURCE_EXHAUSTED. (default: 100)")
    var maxSignatureChecksPerSecond: Int?

    /// Config key `maxWatchStreamsPerConnection`.
    @Option(
        name: .customLong("max-watch-streams-per-connection"),
        help: "grpc.health.v1.Health/Watch streams one connection may hold open; more get RESOURCE_EXHAUSTED. (default: 16)")
    var maxWatchStreamsPerConnection: Int?

    /// A JSON file with any of the keys listed in the discussion; the flags given on the command line win over it.
    @Option(help: "JSON configuration file; flags override its values.")
    var config: String?

    /// Config key `models`. Without it the server starts, but every Inference RPC answers FAILED_PRECONDITION.
    @Option(
        help: "Model registry to serve: a directory (<dir>/<model>/<version>/model.onnx) or an MLflow tracking server, mlflow+http://HOST:PORT or mlflow+https://HOST:PORT (credentials: MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD).")
    var models: String?

    /// Config key `cacheDir` (MLflow sources only).
    @Option(name: .customLong("cache-dir"), help: "MLflow source: directory for the synced state and ONNX files, served while MLflow is down. (default: ~/.cache/sluice/mlflow-HOST_PORT)")
    var cacheDir: String?

    /// Config key `cacheMaxBytes`, in bytes (MLflow sources only).
    @Option(name: .customLong("cache-max-bytes"), help: "MLflow source: bound of the cached ONNX files; old versions are evicted first. (default: 1073741824)")
    var cacheMaxBytes: Int?

    /// Config key `mlflowCA` (MLflow sources only).
    @Option(name: .customLong("mlflow-ca"), help: "MLflow source: PEM CA for mlflow+https. (default: $MLFLOW_TRACKING_SERVER_CERT_PATH, else the system store)")
    var mlflowCA: String?

    /// Config key `adminListen`; the admin listener is off without it.
    @Option(name: .customLong("admin-listen"), help: "HOST:PORT for /metrics, /healthz and /readyz over HTTP/1.1.")
    var adminListen: String?

    /// Config key `httpListen`; needs `--models`. The REST listener is off without it.
    @Option(
        name: .customLong("http-listen"),
        help: "HOST:PORT for the Open Inference Protocol REST routes (/v2/...) over HTTP/1.1; TLS as the gRPC port.")
    var httpListen: String?

    /// Config key `httpIdleTimeoutSeconds`, in seconds.
    @Option(
        name: .customLong("http-idle-timeout"),
        help: "Seconds without traffic before the REST listener closes a connection. (default: 30)")
    var httpIdleTimeout: Int?

    /// Config key `securityConfig`; exactly one of it and `--insecure-no-auth` is required when serving models.
    @Option(
        name: .customLong("security-config"),
        help: "Security configuration (JWT keys, API keys, RBAC, rate limits, audit log); see docs/security.md.")
    var securityConfig: String?

    /// Config key `insecureNoAuth`. `false` means "not given" (the config file may still set it).
    @Flag(name: .customLong("insecure-no-auth"), help: "Serve without authentication (development only).")
    var insecureNoAuth = false

    /// Not a config key: the log format is fixed before the config file is read.
    @Option(
        name: .customLong("log-format"),
        help: "Log lines on stderr as text (time, level, component, message) or json (one object per line). (default: text)")
    var logFormat: String = "text"

    /// Rejects an unknown `--log-format` before anything starts (ArgumentParser prints the message and the usage).
    func validate() throws {
        guard OperatorLog.Format(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format must be text or json")
        }
    }

    /// Defaults to ``defaultReplicaID(_:)``; not a config key.
    @Option(
        name: .customLong("replica-id"),
        help: "This server's name among the replicas sharing --models (its rollout statistics file). (default: HOSTNAME:PORT)")
    var replicaID: String?

    @OptionGroup(title: "Drift monitoring") var monitoring: MonitoringFlags

    /// Starts the server and blocks until a signal has drained it.
    ///
    /// Order matters: the operator log format and the allocator's mmap threshold are fixed before any thread starts;
    /// flags are merged over the `--config` file (flags win); with a model directory the ``InferenceStack`` (registry,
    /// auth, routing, monitoring) is built before the listeners, then the optional admin (`/metrics`) and Open
    /// Inference REST listeners start. SIGHUP (``SluiceApplication/onReload``) refreshes the registry, re-reads the
    /// security configuration and reloads the REST certificate; a failed security reload keeps the old configuration.
    /// Without a model directory every Inference RPC answers FAILED_PRECONDITION.
    ///
    /// - Throws: `ExitCode(1)` after logging `sluice: error: ...` for any configuration or startup failure.
    func run() throws {
        OperatorLog.bootstrap(format: OperatorLog.Format(rawValue: logFormat) ?? .text)
        // Before any thread starts: model arrays in their own mappings, so a replaced version's memory goes back
        // to the system (docs/architecture.md, Memory).
        AllocatorSettings.fixMmapThreshold()
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
            flags.maxConnections = maxConnections
            flags.maxInflightCallsPerThread = maxInflightPerThread
            flags.offloadMinRequestBytes = offloadMinBytes
            flags.workerPriority = workerPriority
            flags.maxAuthFailuresPerConnection = maxAuthFailuresPerConnection
            flags.maxSignatureChecksPerSecond = maxSignatureChecksPerSecond
            flags.maxWatchStreamsPerConnection = maxWatchStreamsPerConnection
            flags.models = models
            flags.cacheDir = cacheDir
            flags.cacheMaxBytes = cacheMaxBytes
            flags.mlflowCA = mlflowCA
            flags.adminListen = adminListen
            flags.httpListen = httpListen
            flags.httpIdleTimeoutSeconds = httpIdleTimeout
            flags.securityConfig = securityConfig
            flags.insecureNoAuth = insecureNoAuth ? true : nil
            monitoring.apply(to: &flags)
            var base = ServerConfiguration()
            if let config { base = try ServerConfiguration.load(path: config) }
            let configuration = base.overridden(by: flags)
            let monitoringConfiguration = try MonitoringFlags.configuration(from: configuration)
            let log: @Sendable (String) -> Void = { line in OperatorLog.emit(line) }
            var stack: InferenceStack?
            if let directory = configuration.models {
                let auth = try makeAuth(configuration, log: log)
                stack = try InferenceStack(
                    models: directory,
                    options: ModelSourceOptions(
                        cacheDir: configuration.cacheDir, cacheMaxBytes: configuration.cacheMaxBytes,
                        mlflowCA: configuration.mlflowCA),
                    auth: auth, offload: try configuration.callOffload(),
                    replicaID: replicaID ?? defaultReplicaID(configuration),
                    monitoring: monitoringConfiguration, log: log)
            }
            let app =
                if let stack {
                    SluiceApplication(
                        configuration: configuration, services: stack.services, health: stack.health,
                        healthGate: stack.healthGate)
                } else {
                    SluiceApplication(configuration: configuration, services: [])
                }
            app.log = log
            try app.prepareSignals()
            if let stack {
                stack.start(health: app.health, releaseCodePages: !keepCodePages, log: log)
                stack.exportTransportCounters(of: app)
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
            if stack == nil {
                log("sluice: WARNING: \(InferenceUnavailableService.reason); every Inference RPC answers FAILED_PRECONDITION")
            }
            if let adminListen = configuration.adminListen {
                if let stack {
                    let port = try stack.startAdmin(
                        listen: adminListen, health: app.health,
                        metricsRequireCredential: configuration.metricsRequireCredential ?? false)
                    let host = adminListen.split(separator: ":").first ?? "127.0.0.1"
                    log("sluice: admin listener on http://\(host):\(port)/metrics")
                } else {
                    let admin = try AdminServer.startWithoutModels(listen: adminListen)
                    let host = adminListen.split(separator: ":").first ?? "127.0.0.1"
                    log("sluice: admin listener on http://\(host):\(admin.port)/metrics")
                }
            }
            var rest: RESTListener?
            if let httpListen = configuration.httpListen {
                guard let stack else {
                    throw ConfigurationError("--http-listen serves models: it needs --models (or \"models\" in the config)")
                }
                let listener = try RESTListener(
                    listen: httpListen, configuration: configuration, api: stack.api, health: app.health)
                let port = try listener.start()
                let host = httpListen.split(separator: ":").dropLast().joined(separator: ":")
                log("sluice: serving Open Inference REST on \(listener.usesTLS ? "https" : "http")://\(host):\(port)/v2")
                rest = listener
                let reload = app.onReload
                app.onReload = {
                    listener.reloadCertificate(configuration: configuration, log: log)
                    reload?()
                }
            }
            try app.run()
            rest?.stop()
            stack?.stop()
        } catch {
            OperatorLog.emit("sluice: error: \(error)")
            throw ExitCode(1)
        }
    }
}

/// `HOSTNAME:PORT` of the gRPC listener; with port 0 (any free port) the process id stands in for the port.
///
/// The default of `--replica-id`: the name each replica reports in a shared rollout, so it must differ between the
/// replicas that share a registry directory.
func defaultReplicaID(_ configuration: ServerConfiguration) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    let host = gethostname(&buffer, buffer.count) == 0 ? String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "sluice"
    let port = (configuration.listen ?? "127.0.0.1:50051").split(separator: ":").last.map(String.init) ?? "50051"
    return port == "0" ? "\(host):pid\(getpid())" : "\(host):\(port)"
}

/// The security layer the configuration asks for. Serving without authentication needs an explicit flag.
///
/// With a security configuration the file is also watched: a change reloads it, and a change that does not parse
/// keeps the old configuration (both are logged).
///
/// - Throws: ``ConfigurationError`` when neither or both of `securityConfig` and `insecureNoAuth` are set, or the
///   security configuration does not load.
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
