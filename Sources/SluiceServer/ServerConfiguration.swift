public import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The server's settings: loaded from a JSON file (`--config`), then overridden by command-line flags.
///
/// Every key is optional in the file; unknown keys are rejected so that a typo does not silently fall back
/// to a default. Add new settings as optional properties with a default in ``resolved``-style accessors.
public struct ServerConfiguration: Codable, Sendable, Equatable {
    /// `HOST:PORT` to listen on (`[::1]:50051` for IPv6); `localhost` means 127.0.0.1.
    public var listen: String?
    /// Event-loop threads; default one per online core.
    public var threads: Int?
    /// PEM certificate chain; TLS is on when this and `tlsKey` are set.
    public var tlsCert: String?
    /// PEM private key for `tlsCert`; both must be set, or neither.
    public var tlsKey: String?
    /// `modern` (TLS 1.3 only) or `intermediate` (TLS 1.2 + 1.3, default).
    public var tlsProfile: String?
    /// PEM CA bundle; when set, clients must present a certificate it signed (mTLS).
    public var clientCA: String?
    /// Serve cleartext HTTP/2 (h2c). Must be chosen explicitly when no certificate is configured.
    public var plaintext: Bool?
    /// Largest request message in bytes (default 4 MiB).
    public var maxMessageBytes: Int?
    /// Seconds to let calls in flight finish after SIGTERM/SIGINT (default 30).
    public var drainTimeoutSeconds: Double?
    /// Seconds before an idle connection is closed (default 300).
    public var idleTimeoutSeconds: Double?
    /// Seconds a new connection has to finish the TLS handshake and HTTP/2 preface (default 10).
    public var handshakeTimeoutSeconds: Double?
    /// Seconds a request may take from its headers to the end of its body (default 60).
    public var requestBodyTimeoutSeconds: Double?
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (default 100).
    public var maxConcurrentStreams: Int?
    /// Request header list limit in bytes (default 8192).
    public var maxHeaderListBytes: Int?
    /// Model registry: a directory (`<dir>/<model>/<version>/model.onnx`) or `mlflow+http(s)://HOST:PORT`.
    public var models: String?
    /// MLflow source: where the synced state and ONNX files are cached.
    public var cacheDir: String?
    /// MLflow source: bound of the cached ONNX files' total size in bytes (default 1 GiB).
    public var cacheMaxBytes: Int?
    /// MLflow source: PEM CA for `mlflow+https` (else `MLFLOW_TRACKING_SERVER_CERT_PATH`).
    public var mlflowCA: String?
    /// HOST:PORT of the HTTP admin listener (`/metrics`, `/healthz`, `/readyz`); off when nil.
    public var adminListen: String?
    /// HOST:PORT of the HTTP/1.1 listener for the Open Inference Protocol REST routes (`/v2/...`); off when nil.
    /// It uses the gRPC port's certificate (`tlsCert`/`tlsKey`) and security configuration.
    public var httpListen: String?
    /// Seconds without traffic after which the REST listener closes a connection (default 30); this also bounds
    /// a client that trickles its request.
    public var httpIdleTimeoutSeconds: Int?
    /// `/metrics` on the admin port asks for a credential (bearer token or `x-api-key`) allowed GetModelVersion.
    public var metricsRequireCredential: Bool?
    /// Security configuration file (authentication, RBAC, audit, rate limits).
    public var securityConfig: String?
    /// Serve without authentication (explicit opt-out).
    public var insecureNoAuth: Bool?
    /// Open connections the server accepts in all (default 10000); more are refused at once.
    public var maxConnections: Int?
    /// Calls each event-loop thread keeps in flight off its thread (default 4096); more get RESOURCE_EXHAUSTED.
    public var maxInflightCallsPerThread: Int?
    /// Requests of at least this many bytes (large batches) run on worker threads, not the event loop
    /// (default 65536; 0 keeps every call on the loop).
    public var offloadMinRequestBytes: Int?
    /// How much lower than the event loops the worker threads run: a nice increment `"0"`...`"19"` relative to
    /// the server's own nice value (default `"5"`), or `"idle"` (SCHED_IDLE: only when a core is otherwise idle).
    public var workerPriority: String?
    /// Calls with bad credentials one connection may make before it is closed with GOAWAY (default 100).
    public var maxAuthFailuresPerConnection: Int?
    /// First-sight signature checks one connection may cause per second (default 100, also the burst); past
    /// it such calls get RESOURCE_EXHAUSTED.
    public var maxSignatureChecksPerSecond: Int?
    /// `grpc.health.v1.Health/Watch` streams one connection may hold open (default 16); more get RESOURCE_EXHAUSTED.
    public var maxWatchStreamsPerConnection: Int?
    /// Drift monitoring on (default) or off (`--no-monitoring`).
    public var monitoring: Bool?
    /// Most requests in a version's drift window (default 10000; `model.json` overrides per model).
    public var monitorWindowRequests: Int?
    /// Oldest request in a drift window, in seconds (default 3600).
    public var monitorWindowSeconds: Double?
    /// Seconds between drift statistics updates (default 10).
    public var monitorIntervalSeconds: Double?
    /// PSI at or above which a feature is WARN (default 0.1).
    public var monitorPsiWarn: Double?
    /// PSI at or above which a feature is DRIFT (default 0.25).
    public var monitorPsiDrift: Double?
    /// Requests a window needs before a verdict other than OK (default 100).
    public var monitorMinRequests: Int?
    /// Most `sluice_feature_psi` series per model (default 50).
    public var monitorMaxFeatures: Int?
    /// BatchPredict records every n-th row (default 64).
    public var monitorBatchStride: Int?
    /// Seconds between snapshots of the live windows, which a restart restores (default 60; 0: only at shutdown).
    public var monitorSnapshotSeconds: Double?

    public init() {}

    /// Top-level keys a config file may hold. Add the key here when adding a property (and to
    /// ``overridden(by:)`` when a flag can set it).
    public static let knownKeys: Set<String> = [
        "listen", "threads", "tlsCert", "tlsKey", "tlsProfile", "clientCA", "plaintext", "maxMessageBytes",
        "drainTimeoutSeconds", "idleTimeoutSeconds", "handshakeTimeoutSeconds", "requestBodyTimeoutSeconds",
        "maxConcurrentStreams", "maxHeaderListBytes", "models", "adminListen", "securityConfig", "insecureNoAuth",
        "maxConnections", "maxInflightCallsPerThread", "offloadMinRequestBytes", "maxAuthFailuresPerConnection",
        "workerPriority", "maxSignatureChecksPerSecond", "maxWatchStreamsPerConnection",
        "cacheDir", "cacheMaxBytes", "mlflowCA", "httpListen", "httpIdleTimeoutSeconds", "metricsRequireCredential",
        "monitoring", "monitorWindowRequests", "monitorWindowSeconds",
        "monitorIntervalSeconds", "monitorPsiWarn", "monitorPsiDrift", "monitorMinRequests", "monitorMaxFeatures",
        "monitorBatchStride", "monitorSnapshotSeconds",
    ]

    /// Reads a JSON configuration file. Errors name the file and the problem.
    public static func load(path: String) throws(ConfigurationError) -> ServerConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError("cannot read config file '\(path)': \(osReason(path))")
        }
        return try decode(data, source: path)
    }

    /// Decodes JSON text (`source` names it in errors).
    public static func decode(_ data: Data, source: String) throws(ConfigurationError) -> ServerConfiguration {
        let object: [String: AnyDecodable]
        do {
            object = try JSONDecoder().decode([String: AnyDecodable].self, from: data)
        } catch {
            throw ConfigurationError("config file '\(source)' is not a JSON object: \(error)")
        }
        let unknown = Set(object.keys).subtracting(knownKeys).sorted()
        if !unknown.isEmpty {
            throw ConfigurationError(
                "config file '\(source)' has unknown key(s) \(unknown.joined(separator: ", ")); known keys: "
                    + knownKeys.sorted().joined(separator: ", "))
        }
        do {
            return try JSONDecoder().decode(ServerConfiguration.self, from: data)
        } catch DecodingError.typeMismatch(_, let context), DecodingError.dataCorrupted(let context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ConfigurationError(
                "config file '\(source)': key '\(key)' has the wrong type (\(context.debugDescription))")
        } catch {
            throw ConfigurationError("config file '\(source)': \(error)")
        }
    }

    /// `other`'s values where set, else this configuration's (flags override the file).
    public func overridden(by other: ServerConfiguration) -> ServerConfiguration {
        var merged = self
        merged.listen = other.listen ?? listen
        merged.threads = other.threads ?? threads
        merged.tlsCert = other.tlsCert ?? tlsCert
        merged.tlsKey = other.tlsKey ?? tlsKey
        merged.tlsProfile = other.tlsProfile ?? tlsProfile
        merged.clientCA = other.clientCA ?? clientCA
        merged.plaintext = other.plaintext ?? plaintext
        merged.maxMessageBytes = other.maxMessageBytes ?? maxMessageBytes
        merged.drainTimeoutSeconds = other.drainTimeoutSeconds ?? drainTimeoutSeconds
        merged.idleTimeoutSeconds = other.idleTimeoutSeconds ?? idleTimeoutSeconds
        merged.handshakeTimeoutSeconds = other.handshakeTimeoutSeconds ?? handshakeTimeoutSeconds
        merged.requestBodyTimeoutSeconds = other.requestBodyTimeoutSeconds ?? requestBodyTimeoutSeconds
        merged.maxConcurrentStreams = other.maxConcurrentStreams ?? maxConcurrentStreams
        merged.maxHeaderListBytes = other.maxHeaderListBytes ?? maxHeaderListBytes
        merged.models = other.models ?? models
        merged.cacheDir = other.cacheDir ?? cacheDir
        merged.cacheMaxBytes = other.cacheMaxBytes ?? cacheMaxBytes
        merged.mlflowCA = other.mlflowCA ?? mlflowCA
        merged.adminListen = other.adminListen ?? adminListen
        merged.httpListen = other.httpListen ?? httpListen
        merged.httpIdleTimeoutSeconds = other.httpIdleTimeoutSeconds ?? httpIdleTimeoutSeconds
        merged.metricsRequireCredential = other.metricsRequireCredential ?? metricsRequireCredential
        merged.securityConfig = other.securityConfig ?? securityConfig
        merged.insecureNoAuth = other.insecureNoAuth ?? insecureNoAuth
        merged.maxConnections = other.maxConnections ?? maxConnections
        merged.maxInflightCallsPerThread = other.maxInflightCallsPerThread ?? maxInflightCallsPerThread
        merged.offloadMinRequestBytes = other.offloadMinRequestBytes ?? offloadMinRequestBytes
        merged.workerPriority = other.workerPriority ?? workerPriority
        merged.maxAuthFailuresPerConnection = other.maxAuthFailuresPerConnection ?? maxAuthFailuresPerConnection
        merged.maxSignatureChecksPerSecond = other.maxSignatureChecksPerSecond ?? maxSignatureChecksPerSecond
        merged.maxWatchStreamsPerConnection = other.maxWatchStreamsPerConnection ?? maxWatchStreamsPerConnection
        merged.monitoring = other.monitoring ?? monitoring
        merged.monitorWindowRequests = other.monitorWindowRequests ?? monitorWindowRequests
        merged.monitorWindowSeconds = other.monitorWindowSeconds ?? monitorWindowSeconds
        merged.monitorIntervalSeconds = other.monitorIntervalSeconds ?? monitorIntervalSeconds
        merged.monitorPsiWarn = other.monitorPsiWarn ?? monitorPsiWarn
        merged.monitorPsiDrift = other.monitorPsiDrift ?? monitorPsiDrift
        merged.monitorMinRequests = other.monitorMinRequests ?? monitorMinRequests
        merged.monitorMaxFeatures = other.monitorMaxFeatures ?? monitorMaxFeatures
        merged.monitorBatchStride = other.monitorBatchStride ?? monitorBatchStride
        merged.monitorSnapshotSeconds = other.monitorSnapshotSeconds ?? monitorSnapshotSeconds
        // Choosing a transport on the command line replaces the file's choice instead of conflicting with it.
        if other.tlsCert != nil && other.plaintext == nil { merged.plaintext = nil }
        if other.plaintext == true && other.tlsCert == nil && other.tlsKey == nil {
            merged.tlsCert = nil
            merged.tlsKey = nil
        }
        return merged
    }
}

/// A configuration problem a person can fix (bad file, bad value, missing certificate).
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// What is wrong and, where possible, how to fix it; shown to the operator as is.
    public let message: String
    public init(_ message: String) { self.message = message }
    /// Just the message.
    public var description: String { message }
}

/// Why `path` cannot be opened for reading, as the operating system puts it.
func osReason(_ path: String) -> String {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return String(cString: strerror(errno)) }
    close(fd)
    return "unreadable"
}

/// Accepts any JSON value (used only to list a file's top-level keys).
struct AnyDecodable: Decodable {
    init(from decoder: any Decoder) throws {}
}
