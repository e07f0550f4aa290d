import FoundationEssentials
public import GRPCCore
import GRPCServer
public import InferenceService
import NetCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The composition root: builds the router from the given services (plus health, plus the Inference
/// placeholder while no real Inference service is given), starts the transport, and runs until SIGTERM or
/// SIGINT, then drains gracefully within the drain timeout.
///
/// ```swift
/// let app = try SluiceApplication(configuration: config, services: [myService])
/// try app.run()   // returns after a graceful shutdown; throws startup errors
/// ```
public final class SluiceApplication: @unchecked Sendable {
    public let configuration: ServerConfiguration
    /// Health statuses served by `grpc.health.v1.Health/Check`; set per service from anywhere.
    public let health: HealthStatusTable
    public let router: GRPCRouter
    /// Called (on the main thread) for SIGHUP after the TLS certificate has been reloaded; e.g. to reload models.
    public var onReload: (() -> Void)?
    /// Lines of operator output (startup, shutdown); stderr by default.
    public var log: (String) -> Void = { line in
        var text = line + "\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
    private var server: GRPCServer?
    /// The running transport, for readers on other threads (the admin listener's metrics).
    private let runningServer = Mutex<GRPCServer?>(nil)
    private var signals: SignalWatcher?

    /// Blocks SIGTERM/SIGINT/SIGHUP for this thread and every thread started after it, and watches them.
    /// Call before starting other threads (model loading, timers) so that no thread is killed by a signal
    /// meant for the graceful shutdown; ``run()`` calls it itself if nobody did.
    public func prepareSignals() throws(ConfigurationError) {
        if signals != nil { return }
        do { signals = try SignalWatcher() } catch { throw ConfigurationError("cannot watch signals: \(error)") }
    }
    private let stopRequested = Atomic<Bool>(false)

    /// `services` are registered with the health service; a service named `sluice.v1.Inference` replaces the
    /// placeholder that answers UNIMPLEMENTED.
    /// `healthGate`, when given, runs before every health check and may refuse it (authentication of health
    /// checks when the security policy closes them).
    public init(
        configuration: ServerConfiguration, services: [any GRPCService], health: HealthStatusTable = HealthStatusTable(),
        healthGate: (@Sendable (CallContext) -> RPCError?)? = nil
    ) {
        self.configuration = configuration
        self.health = health
        var all = services
        for service in services { health.set(service.serviceName, .serving) }
        if !services.contains(where: { $0.serviceName == "sluice.v1.Inference" }) {
            // The placeholder answers UNIMPLEMENTED, so health must not call it serving.
            all.append(InferenceUnavailableService())
            health.set("sluice.v1.Inference", .notServing)
        }
        let healthService = HealthService(
            table: health,
            maxWatchStreamsPerConnection: configuration.maxWatchStreamsPerConnection
                ?? HealthService.defaultMaxWatchStreamsPerConnection)
        // Reflection is as open as health checks: the same gate.
        let catalog = ServiceCatalog()
        let open: [any GRPCService] = [healthService] + ReflectionService.all(catalog: catalog)
        for service in open {
            if let healthGate {
                all.append(GatedService(wrapping: service, gate: healthGate))
            } else {
                all.append(service)
            }
        }
        health.set("grpc.health.v1.Health", .serving)
        self.router = GRPCRouter(services: all)
        catalog.publish(router.services)
    }

    /// Reloads the TLS certificate and key from their files for new connections; keeps the old ones on error.
    private func reloadCertificate(server: GRPCServer, current: GRPCServerConfiguration) {
        guard current.usesTLS else { return }
        var fresh = current
        do {
            try configuration.configureTLS(&fresh)
            server.replaceTLS(from: fresh)
            log("sluice: SIGHUP: reloaded TLS certificate \(configuration.tlsCert ?? "")")
        } catch {
            log("sluice: SIGHUP: keeping the current TLS certificate: \(error.message)")
        }
    }

    /// Asks a running ``run()`` to drain and return, as SIGTERM would (within about 200 ms). Any thread.
    public func stop() { stopRequested.store(true, ordering: .sequentiallyConsistent) }

    /// The transport's admission counters (zeros before ``run()`` has started the server). Any thread.
    public func transportCounters() -> (openConnections: Int, refusedConnections: Int, refusedCalls: Int) {
        runningServer.withLock { server in
            guard let server else { return (0, 0, 0) }
            return (server.openConnections, server.refusedConnections, server.refusedCalls)
        }
    }

    /// The port actually bound (after ``run()`` has started the server).
    public var boundPort: Int? { server?.port }

    /// Starts serving and blocks until a graceful shutdown completes. Throws ``ConfigurationError`` for
    /// anything that prevents starting (bad settings, unreadable certificate, port in use).
    ///
    /// Call it from the main thread before other threads exist: it blocks SIGTERM/SIGINT/SIGHUP in the calling
    /// thread to read them from a signalfd, and threads started later inherit that mask.
    public func run() throws(ConfigurationError) {
        let transport = try configuration.transportConfiguration()
        try prepareSignals()
        guard let signals else { throw ConfigurationError("cannot watch signals") }
        let server = GRPCServer(configuration: transport, router: router)
        do { try server.start() } catch { throw ConfigurationError("cannot start: \(error)") }
        self.server = server
        runningServer.withLock { $0 = server }
        let scheme = transport.tls == nil ? "h2c (cleartext)" : "TLS"
        let shownHost = transport.host.contains(":") ? "[\(transport.host)]" : transport.host
        log("sluice: serving gRPC on \(shownHost):\(server.port) over \(scheme) with \(transport.threads) thread(s)")

        var pollEntry = pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0)
        waiting: while true {
            _ = poll(&pollEntry, 1, 200)
            if stopRequested.load(ordering: .sequentiallyConsistent) {
                log("sluice: stop requested; draining (up to \(configuration.drainTimeout) s)")
                break
            }
            while let signal = signals.next() {
                if signal == SIGHUP {
                    reloadCertificate(server: server, current: transport)
                    onReload?()
                    continue
                }
                log("sluice: received signal \(signal); draining (up to \(configuration.drainTimeout) s)")
                break waiting
            }
            if server.isStopped { break }
        }
        health.setAllNotServing()
        server.beginGracefulShutdown()
        let end = monotonicNanoseconds() + UInt64(configuration.drainTimeout * 1e9)
        var clean = true
        while !server.isStopped {
            if monotonicNanoseconds() >= end {
                clean = false
                break
            }
            _ = poll(&pollEntry, 1, 20)
            if let signal = signals.next(), signal != SIGHUP {
                log("sluice: second signal \(signal); closing connections now")
                clean = false
                break
            }
        }
        if !clean { server.forceShutdown() }
        _ = server.wait(timeoutSeconds: 5)
        log(clean ? "sluice: stopped" : "sluice: stopped after the drain deadline; remaining calls were cut")
    }
}
