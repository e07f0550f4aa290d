public import GRPCCore
public import NetCore
import BackgroundThreads
import Synchronization
import TLS

#if canImport(Glibc)
    import Glibc
#endif

/// The gRPC server transport: `threads` event loops, each with its own SO_REUSEPORT listener, serving the
/// routes of one ``GRPCRouter`` over HTTP/2 (cleartext with prior knowledge, or TLS with ALPN `h2`).
///
/// ```swift
/// let server = GRPCServer(configuration: config, router: router)
/// try server.start()                       // binds (throws a readable error: port in use, ...)
/// server.beginGracefulShutdown()           // from any thread: stop accepting, GOAWAY, drain
/// let clean = server.wait(timeoutSeconds: 30)  // false: deadline passed, connections were cut
/// ```
public final class GRPCServer: @unchecked Sendable {
    public let configuration: GRPCServerConfiguration
    public let router: GRPCRouter
    private var loops: [ServerLoop] = []
    private var threads: [pthread_t] = []
    private let running = Atomic<Int>(0)
    /// The bound port (useful with port 0).
    public private(set) var port: Int = 0
    /// Admission counters shared by the loops.
    private let limits: ServerLimits

    public init(configuration: GRPCServerConfiguration, router: GRPCRouter) {
        self.configuration = configuration
        self.router = router
        self.limits = ServerLimits(maxConnections: configuration.maxConnections)
    }

    /// Connections open now, across all loops.
    public var openConnections: Int { limits.connections.load(ordering: .relaxed) }
    /// Connections refused so far because the server was at `maxConnections`.
    public var refusedConnections: Int { limits.refusedConnections.load(ordering: .relaxed) }
    /// Calls refused so far because their loop was at `maxInflightCallsPerLoop`.
    public var refusedCalls: Int { limits.refusedCalls.load(ordering: .relaxed) }

    /// Binds every loop's listener and starts the loop threads. Throws before starting any thread when a
    /// listener cannot be opened.
    public func start() throws(SystemError) {
        let count = max(1, configuration.threads)
        Socket.raiseOpenFileLimit()
        var fds: [Int32] = []
        do {
            let first = try Socket.listen(host: configuration.host, port: configuration.port, exclusive: true)
            fds.append(first)
            port = Socket.localPort(first)
            for _ in 1..<count { fds.append(try Socket.listen(host: configuration.host, port: port)) }
            for fd in fds {
                loops.append(
                    try ServerLoop(listenFD: fd, configuration: configuration, router: router, limits: limits))
            }
        } catch {
            if loops.isEmpty { for fd in fds { Socket.close(fd) } }
            throw error
        }
        running.store(loops.count, ordering: .sequentiallyConsistent)
        for (index, loop) in loops.enumerated() {
            loop.onStopped = { self.running.subtract(1, ordering: .sequentiallyConsistent) }
            let box = Unmanaged.passRetained(ThreadBox(loop))
            var thread = pthread_t()
            let rc = pthread_create(
                &thread, nil,
                { raw in
                    guard let raw else { return nil }
                    let box = Unmanaged<ThreadBox>.fromOpaque(raw).takeRetainedValue()
                    box.loop.run()
                    return nil
                }, box.toOpaque())
            if rc != 0 {
                box.release()
                running.subtract(1, ordering: .sequentiallyConsistent)
                throw SystemError("pthread_create", errno: rc)
            }
            BackgroundThread.setName(of: thread, to: "sluice-loop-\(index)")
            threads.append(thread)
        }
    }

    /// Stops accepting and drains: GOAWAY to every connection; calls in flight finish. Callable from any thread.
    public func beginGracefulShutdown() {
        for loop in loops { loop.loop.execute { loop.beginDrain() } }
    }

    /// Makes new connections use `configuration.tls` (e.g. a renewed certificate); connections already open keep
    /// theirs. Does nothing when either side has no TLS. Callable from any thread.
    public func replaceTLS(from configuration: GRPCServerConfiguration) {
        guard let context = configuration.tls, self.configuration.tls != nil else { return }
        let shared = SendableTLS(context: context)
        for loop in loops { loop.loop.execute { loop.tlsContext = shared.context } }
    }

    /// Closes every connection now. Callable from any thread.
    public func forceShutdown() {
        for loop in loops { loop.loop.execute { loop.forceStop() } }
    }

    /// Whether every loop has stopped.
    public var isStopped: Bool { running.load(ordering: .sequentiallyConsistent) == 0 }

    /// Waits until every loop has stopped, up to `timeoutSeconds`; returns whether they all did. On `false`
    /// call ``forceShutdown()`` and wait again.
    public func wait(timeoutSeconds: Double) -> Bool {
        let end = monotonicNanoseconds() + UInt64(max(0, timeoutSeconds) * 1e9)
        while !isStopped {
            if monotonicNanoseconds() >= end { return false }
            usleep(5_000)
        }
        for thread in threads { pthread_join(thread, nil) }
        threads.removeAll()
        return true
    }
}

private struct SendableTLS: @unchecked Sendable {
    let context: TLSContext
}

private final class ThreadBox {
    let loop: ServerLoop
    init(_ loop: ServerLoop) { self.loop = loop }
}
