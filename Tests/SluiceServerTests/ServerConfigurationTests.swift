import Foundation
import GRPCServer
import SluiceServer
import Testing

/// Decodes `json` and returns the configuration error message (records an issue when it decoded).
private func decodeError(_ json: String) -> String {
    do {
        _ = try ServerConfiguration.decode(Data(json.utf8), source: "test.json")
        Issue.record("decoded: \(json)")
        return ""
    } catch {
        return error.message
    }
}

/// The message of the error `body` throws (records an issue when it did not throw).
private func configurationError(_ body: () throws -> Void) -> String {
    do {
        try body()
        Issue.record("expected a ConfigurationError")
        return ""
    } catch let error as ConfigurationError {
        return error.message
    } catch {
        Issue.record("unexpected \(error)")
        return ""
    }
}

private func config(_ json: String) throws -> ServerConfiguration {
    try ServerConfiguration.decode(Data(json.utf8), source: "test.json")
}

@Suite("ServerConfiguration")
struct ServerConfigurationTests {
    @Test func knownKeysAreExactlyTheProperties() {
        let properties = Set(Mirror(reflecting: ServerConfiguration()).children.compactMap(\.label))
        #expect(properties == ServerConfiguration.knownKeys)
    }

    @Test func decodesValues() throws {
        let decoded = try config(
            #"{"listen": "[::1]:7000", "threads": 3, "plaintext": true, "drainTimeoutSeconds": 2.5, "models": "/m"}"#)
        #expect(decoded.listen == "[::1]:7000")
        #expect(decoded.threads == 3)
        #expect(decoded.plaintext == true)
        #expect(decoded.drainTimeout == 2.5)
        #expect(decoded.models == "/m")
        #expect(decoded.tlsCert == nil)
        #expect(ServerConfiguration().drainTimeout == 30)
    }

    @Test func unknownKeysAreListed() {
        let message = decodeError(#"{"listen": "x:1", "thread": 2, "tlsCertificate": "a"}"#)
        #expect(message.hasPrefix("config file 'test.json' has unknown key(s) thread, tlsCertificate; known keys: "),
                "\(message)")
    }

    @Test func wrongTypeNamesTheKey() {
        let message = decodeError(#"{"threads": "four"}"#)
        #expect(message.contains("key 'threads' has the wrong type"), "\(message)")
        #expect(decodeError("[1, 2]").hasPrefix("config file 'test.json' is not a JSON object"))
        #expect(decodeError("{").hasPrefix("config file 'test.json' is not a JSON object"))
    }

    @Test func loadNamesMissingFile() {
        let path = "/tmp/sluice-no-such-config-\(UUID().uuidString).json"
        let message = configurationError { _ = try ServerConfiguration.load(path: path) }
        #expect(message == "cannot read config file '\(path)': No such file or directory")
    }

    @Test func loadReadsFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: path) }
        try Data(#"{"maxConnections": 12}"#.utf8).write(to: path)
        #expect(try ServerConfiguration.load(path: path.path).maxConnections == 12)
    }

    @Test func flagsOverrideFileAndTransportChoiceReplaces() throws {
        let file = try config(#"{"listen": "a:1", "threads": 2, "tlsCert": "c.pem", "tlsKey": "k.pem"}"#)
        var flags = ServerConfiguration()
        flags.threads = 5
        flags.plaintext = true
        let merged = file.overridden(by: flags)
        #expect(merged.listen == "a:1")
        #expect(merged.threads == 5)
        #expect(merged.plaintext == true)
        #expect(merged.tlsCert == nil && merged.tlsKey == nil)

        let plainFile = try config(#"{"plaintext": true}"#)
        var tlsFlags = ServerConfiguration()
        tlsFlags.tlsCert = "c.pem"
        tlsFlags.tlsKey = "k.pem"
        let tls = plainFile.overridden(by: tlsFlags)
        #expect(tls.plaintext == nil)
        #expect(tls.tlsCert == "c.pem")
    }

    @Test func overrideCarriesEveryProperty() throws {
        // A flag set for every key must win over an empty file, so no property is forgotten in overridden(by:).
        let full = try config(
            #"""
            {"listen": "h:1", "threads": 2, "tlsCert": "c", "tlsKey": "k", "tlsProfile": "modern", "clientCA": "ca",
             "maxMessageBytes": 3, "drainTimeoutSeconds": 4, "idleTimeoutSeconds": 5, "handshakeTimeoutSeconds": 6,
             "requestBodyTimeoutSeconds": 7, "maxConcurrentStreams": 8, "maxHeaderListBytes": 9, "models": "m",
             "adminListen": "a:2", "securityConfig": "s", "insecureNoAuth": true, "maxConnections": 10,
             "maxInflightCallsPerThread": 11, "offloadMinRequestBytes": 12, "maxAuthFailuresPerConnection": 13,
             "cacheDir": "d", "cacheMaxBytes": 14, "mlflowCA": "mca", "maxSignatureChecksPerSecond": 15,
             "maxWatchStreamsPerConnection": 16, "httpListen": "h:3", "httpIdleTimeoutSeconds": 17,
             "metricsRequireCredential": true, "monitoring": false, "monitorWindowRequests": 18,
             "monitorWindowSeconds": 19, "monitorIntervalSeconds": 20, "monitorPsiWarn": 0.2, "monitorPsiDrift": 0.3,
             "monitorMinRequests": 21, "monitorMaxFeatures": 22, "monitorBatchStride": 23, "monitorSnapshotSeconds": 24,
             "workerPriority": "idle"}
            """#)
        let setCount = Mirror(reflecting: full).children.filter { child in
            let value = Mirror(reflecting: child.value)
            return !(value.displayStyle == .optional && value.children.isEmpty)
        }.count
        // Everything but `plaintext` is set (TLS and plaintext conflict).
        #expect(setCount == ServerConfiguration.knownKeys.count - 1)
        #expect(ServerConfiguration().overridden(by: full) == full)
        #expect(full.overridden(by: ServerConfiguration()) == full)
    }

    @Test(arguments: [
        ("127.0.0.1:50051", "127.0.0.1", 50051), ("localhost:80", "127.0.0.1", 80), (":9000", "0.0.0.0", 9000),
        ("[::1]:7000", "::1", 7000), ("0.0.0.0:0", "0.0.0.0", 0),
    ])
    func listenAddressParses(text: String, host: String, port: Int) throws {
        var configuration = ServerConfiguration()
        configuration.listen = text
        let address = try configuration.listenAddress()
        #expect(address.host == host)
        #expect(address.port == port)
    }

    @Test func defaultListenAddress() throws {
        let address = try ServerConfiguration().listenAddress()
        #expect(address.host == "127.0.0.1" && address.port == 50051)
    }

    @Test(arguments: ["nocolon", "[::1]7000", "[::1", "host:99999", "host:-1", "host:http", "host:"])
    func badListenAddressIsRefused(text: String) {
        var configuration = ServerConfiguration()
        configuration.listen = text
        let message = configurationError { _ = try configuration.listenAddress() }
        #expect(message.hasPrefix("--listen '\(text)': "), "\(message)")
    }

    @Test func transportRequiresExplicitTransportChoice() throws {
        let none = configurationError { _ = try ServerConfiguration().transportConfiguration() }
        #expect(none.hasPrefix("no TLS certificate configured"), "\(none)")
        let half = configurationError { _ = try config(#"{"tlsCert": "c.pem"}"#).transportConfiguration() }
        #expect(half == "--tls-cert and --tls-key must be given together")
        let both = configurationError {
            _ = try config(#"{"tlsCert": "c", "tlsKey": "k", "plaintext": true}"#).transportConfiguration()
        }
        #expect(both == "--plaintext conflicts with --tls-cert/--tls-key: choose one")
        let profile = configurationError {
            _ = try config(#"{"tlsCert": "c", "tlsKey": "k", "tlsProfile": "old"}"#).transportConfiguration()
        }
        #expect(profile == "TLS profile 'old' is unknown: use 'modern' or 'intermediate'")
        let missingCert = configurationError {
            _ = try config(#"{"tlsCert": "/nonexistent/c.pem", "tlsKey": "/nonexistent/k.pem"}"#).transportConfiguration()
        }
        #expect(missingCert.contains("/nonexistent/c.pem"), "\(missingCert)")
    }

    @Test func plaintextTransportCarriesLimits() throws {
        let transport = try config(
            #"""
            {"plaintext": true, "listen": "127.0.0.1:1234", "threads": 2, "maxMessageBytes": 1048576,
             "maxConcurrentStreams": 7, "maxHeaderListBytes": 4096, "maxConnections": 9,
             "maxInflightCallsPerThread": 5, "maxAuthFailuresPerConnection": 3, "idleTimeoutSeconds": 1.5}
            """#
        ).transportConfiguration()
        #expect(transport.port == 1234)
        #expect(transport.threads == 2)
        #expect(transport.maxMessageBytes == 1_048_576)
        #expect(transport.maxBufferedRequestBytesPerConnection == 16 << 20)
        #expect(transport.maxConcurrentStreams == 7)
        #expect(transport.maxHeaderListSize == 4096)
        #expect(transport.maxConnections == 9)
        #expect(transport.maxInflightCallsPerLoop == 5)
        #expect(transport.maxAuthenticationFailuresPerConnection == 3)
        #expect(transport.idleTimeoutSeconds == 1.5)
    }

    @Test(arguments: [
        (#""threads": 0"#, "--threads must be between 1 and 256, got 0"),
        (#""threads": 257"#, "--threads must be between 1 and 256, got 257"),
        (#""maxMessageBytes": 0"#, "--max-message-bytes must be between 1 and 1073741824, got 0"),
        (#""drainTimeoutSeconds": -1"#, "--drain-timeout must not be negative"),
        (#""idleTimeoutSeconds": 0"#, "idle timeout must be positive"),
        (#""handshakeTimeoutSeconds": -2"#, "handshake timeout must be positive"),
        (#""requestBodyTimeoutSeconds": 0"#, "request body timeout must be positive"),
        (#""maxConcurrentStreams": 10001"#, "max concurrent streams must be between 1 and 10000"),
        (#""maxHeaderListBytes": 1023"#, "max header list bytes must be between 1024 and 1048576"),
        (#""maxConnections": 0"#, "--max-connections must be between 1 and 1000000, got 0"),
        (#""maxInflightCallsPerThread": 0"#, "--max-inflight-per-thread must be between 1 and 1000000, got 0"),
        (#""maxAuthFailuresPerConnection": 0"#, "--max-auth-failures-per-connection must be between 1 and 1000000, got 0"),
    ])
    func outOfRangeValuesAreRefused(fragment: String, expected: String) throws {
        let configuration = try config("{\"plaintext\": true, \(fragment)}")
        #expect(configurationError { _ = try configuration.transportConfiguration() } == expected)
    }

    @Test func callOffloadSettings() throws {
        #expect(try config(#"{"offloadMinRequestBytes": 0}"#).callOffload() == nil)
        let negative = configurationError { _ = try config(#"{"offloadMinRequestBytes": -1}"#).callOffload() }
        #expect(negative == "--offload-min-bytes must not be negative")
    }
}
