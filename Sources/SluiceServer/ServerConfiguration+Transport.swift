import FoundationEssentials
public import GRPCServer
public import InferenceService
import BackgroundThreads

#if canImport(Glibc)
    import Glibc
#endif

extension ServerConfiguration {
    /// Splits `listen` into a numeric host and a port.
    public func listenAddress() throws(ConfigurationError) -> (host: String, port: Int) {
        let text = listen ?? "127.0.0.1:50051"
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ConfigurationError("--listen '\(text)': expected [IPv6]:PORT, e.g. [::1]:50051")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ConfigurationError("--listen '\(text)': expected HOST:PORT, e.g. 127.0.0.1:50051")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        if host == "localhost" { host = "127.0.0.1" }
        if host.isEmpty { host = "0.0.0.0" }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigurationError("--listen '\(text)': port must be a number from 0 to 65535")
        }
        return (String(host), port)
    }

    /// Seconds to drain on shutdown.
    public var drainTimeout: Double { drainTimeoutSeconds ?? 30 }

    /// Checks values and builds the transport's configuration (loading the TLS certificate).
    public func transportConfiguration() throws(ConfigurationError) -> GRPCServerConfiguration {
        var config = GRPCServerConfiguration()
        (config.host, config.port) = try listenAddress()
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        config.threads = threads ?? max(1, cores)
        guard (1...256).contains(config.threads) else {
            throw ConfigurationError("--threads must be between 1 and 256, got \(config.threads)")
        }
        if let maxMessageBytes {
            guard maxMessageBytes > 0, maxMessageBytes <= 1 << 30 else {
                throw ConfigurationError("--max-message-bytes must be between 1 and 1073741824, got \(maxMessageBytes)")
            }
            config.maxMessageBytes = maxMessageBytes
            config.maxBufferedRequestBytesPerConnection = max(16 << 20, 2 * maxMessageBytes)
        }
        if let drainTimeoutSeconds, drainTimeoutSeconds < 0 {
            throw ConfigurationError("--drain-timeout must not be negative")
        }
        if let idleTimeoutSeconds {
            guard idleTimeoutSeconds > 0 else { throw ConfigurationError("idle timeout must be positive") }
            config.idleTimeoutSeconds = idleTimeoutSeconds
        }
        if let handshakeTimeoutSeconds {
            guard handshakeTimeoutSeconds > 0 else { throw ConfigurationError("handshake timeout must be positive") }
            config.handshakeTimeoutSeconds = handshakeTimeoutSeconds
        }
        if let requestBodyTimeoutSeconds {
            guard requestBodyTimeoutSeconds > 0 else {
                throw ConfigurationError("request body timeout must be positive")
            }
            config.requestBodyTimeoutSeconds = requestBodyTimeoutSeconds
        }
        if let maxConcurrentStreams {
            guard maxConcurrentStreams > 0, maxConcurrentStreams <= 10_000 else {
                throw ConfigurationError("max concurrent streams must be between 1 and 10000")
            }
            config.maxConcurrentStreams = UInt32(maxConcurrentStreams)
        }
        if let maxHeaderListBytes {
            guard maxHeaderListBytes >= 1024, maxHeaderListBytes <= 1 << 20 else {
                throw ConfigurationError("max header list bytes must be between 1024 and 1048576")
            }
            config.maxHeaderListSize = UInt32(maxHeaderListBytes)
        }
        _ = try workerThreadPriority()  // checked here too: without --models no worker pool is made
        if let maxConnections {
            guard (1...1_000_000).contains(maxConnections) else {
                throw ConfigurationError("--max-connections must be between 1 and 1000000, got \(maxConnections)")
            }
            config.maxConnections = maxConnections
        }
        if let maxInflightCallsPerThread {
            guard (1...1_000_000).contains(maxInflightCallsPerThread) else {
                throw ConfigurationError(
                    "--max-inflight-per-thread must be between 1 and 1000000, got \(maxInflightCallsPerThread)")
            }
            config.maxInflightCallsPerLoop = maxInflightCallsPerThread
        }
        if let maxAuthFailuresPerConnection {
            guard (1...1_000_000).contains(maxAuthFailuresPerConnection) else {
                throw ConfigurationError(
                    "--max-auth-failures-per-connection must be between 1 and 1000000, got \(maxAuthFailuresPerConnection)")
            }
            config.maxAuthenticationFailuresPerConnection = maxAuthFailuresPerConnection
        }
        if let maxSignatureChecksPerSecond {
            guard (1...1_000_000).contains(maxSignatureChecksPerSecond) else {
                throw ConfigurationError(
                    "--max-signature-checks-per-second must be between 1 and 1000000, got \(maxSignatureChecksPerSecond)")
            }
            config.maxSignatureChecksPerSecondPerConnection = maxSignatureChecksPerSecond
        }
        if let maxWatchStreamsPerConnection, !(1...1000).contains(maxWatchStreamsPerConnection) {
            // The cap is applied by the health service (SluiceApplication); checked here with the other limits.
            throw ConfigurationError(
                "--max-watch-streams-per-connection must be between 1 and 1000, got \(maxWatchStreamsPerConnection)")
        }
        try configureTLS(&config)
        return config
    }

    /// Turns TLS on when a certificate is configured; requires an explicit `--plaintext` otherwise.
    func configureTLS(_ config: inout GRPCServerConfiguration) throws(ConfigurationError) {
        let wantsPlaintext = plaintext ?? false
        switch (tlsCert, tlsKey) {
        case (nil, nil):
            guard wantsPlaintext else {
                throw ConfigurationError(
                    "no TLS certificate configured: pass --tls-cert and --tls-key (certs/generate makes development "
                        + "ones in certs/dev/), or choose cleartext HTTP/2 explicitly with --plaintext")
            }
            return
        case (.some, nil), (nil, .some):
            throw ConfigurationError("--tls-cert and --tls-key must be given together")
        case (.some(let cert), .some(let key)):
            guard !wantsPlaintext else {
                throw ConfigurationError("--plaintext conflicts with --tls-cert/--tls-key: choose one")
            }
            let modernOnly: Bool
            switch tlsProfile ?? "intermediate" {
            case "modern": modernOnly = true
            case "intermediate": modernOnly = false
            case let other:
                throw ConfigurationError("TLS profile '\(other)' is unknown: use 'modern' or 'intermediate'")
            }
            do {
                try config.enableTLS(
                    certificatePath: cert, keyPath: key, modernOnly: modernOnly, clientCAPath: clientCA)
            } catch {
                throw ConfigurationError("\(error)")
            }
        }
    }
}

extension ServerConfiguration {
    /// The worker pool for large calls: one thread per event loop at `workerPriority` (`SCHED_IDLE` by default),
    /// up to 64 calls queued; nil when `offloadMinRequestBytes` is 0. Call it on the thread
    /// that starts the loops: priorities are relative to the caller's.
    public func callOffload() throws(ConfigurationError) -> CallOffload? {
        let minimum = offloadMinRequestBytes ?? 64 << 10
        guard minimum >= 0 else { throw ConfigurationError("--offload-min-bytes must not be negative") }
        let priority = try workerThreadPriority()
        guard minimum > 0 else { return nil }
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let workers = max(1, threads ?? cores)
        let pool = WorkerPool(name: "sluice-worker", size: workers, capacity: 64, priority: priority)
        if let failure = pool.priorityError {
            throw ConfigurationError(
                "--worker-priority \(priority.description): the worker threads cannot lower their priority "
                    + "(\(failure)); choose another --worker-priority (0 keeps the loops' priority)")
        }
        return CallOffload(pool: pool, minRequestBytes: minimum)
    }

    /// `workerPriority` parsed: ``ThreadPriority/idle`` when unset. Measured (BENCHMARKS.md, "Loop isolation:
    /// idle workers"): with nice +5 workers, a 1-row Predict sharing its loop's core with a 100,000-row batch waited
    /// up to one scheduler tick (4.1-5.4 ms); with idle workers at most 1.6 ms.
    func workerThreadPriority() throws(ConfigurationError) -> ThreadPriority {
        guard let text = workerPriority else { return .idle }
        guard let priority = ThreadPriority(argument: text) else {
            throw ConfigurationError(
                "--worker-priority must be a nice increment from 0 to 19 or 'idle', not '\(text)'")
        }
        return priority
    }
}
