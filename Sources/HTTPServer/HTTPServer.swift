internal import BackgroundThreads
internal import CMicroHTTPD
internal import NetCore

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP/1.1 listener: libmicrohttpd parses, our ``EventLoop`` drives it.
///
/// The daemon runs in external-select mode with its own epoll set (`MHD_USE_EPOLL`, no internal thread). That
/// epoll descriptor is registered in a NetCore loop on the listener's thread; when it is readable, or when
/// `MHD_get_timeout` says a connection times out, the loop calls `MHD_run`. Handlers therefore run
/// synchronously on the loop thread, as gRPC calls do, and never block it.
///
/// The library enforces the wire rules: request-line and header syntax (strict mode), chunked decoding (bad
/// chunks close the connection with 400), the header memory limit (431), the connection limit and the idle
/// timeout. This class adds the body bound (413 on a declared `Content-Length`, a close on a chunked body that
/// grows past it) and refuses a request that carries both `Content-Length` and `Transfer-Encoding` (400 and a
/// close: the classic request-smuggling shape).
public final class HTTPServer: @unchecked Sendable {
    /// Answers one complete request on the loop thread.
    public typealias Handler = @Sendable (borrowing HTTPRequest) -> HTTPResponse

    /// Why the listener could not start.
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    public let configuration: HTTPServerConfiguration
    private let handler: Handler
    /// The daemon that accepts new connections.
    private var daemon: Daemon?
    /// Daemons replaced by ``replaceTLS(certificatePEM:keyPEM:completion:)`` that still serve their open
    /// connections; each is stopped once it has none left.
    private var retiring: [Daemon] = []
    private var loop: EventLoop?
    private var thread: BackgroundThread.Handle?
    /// The listening socket. Each daemon gets its own duplicate (libmicrohttpd closes the descriptor it was given
    /// when it stops, or when it fails to start), so a reload can start a second daemon on the same socket.
    private var listenFD: Int32 = -1
    /// The deadline (monotonic ns) of the armed MHD timer, if any; later timers are not queued twice.
    private var armedDeadline: UInt64 = .max
    /// The bound port (after ``start()``).
    public private(set) var port: Int = 0
    /// Per open connection (by socket, from libmicrohttpd's open to its close notification): since when it has
    /// been waiting for a complete request (the connection's start or the previous answer); 0 while a request is
    /// being answered or after the sweep cut it.
    private var waiting: [Int32: UInt64] = [:]

    /// One libmicrohttpd daemon, its epoll descriptor's registration, and the C strings it points into.
    private final class Daemon {
        let pointer: OpaquePointer
        let epollFD: Int32
        var token: UInt64 = 0
        let strings: [UnsafeMutablePointer<CChar>]

        init(pointer: OpaquePointer, strings: [UnsafeMutablePointer<CChar>]) {
            self.pointer = pointer
            self.epollFD = CMHD_daemon_epoll_fd(pointer)
            self.strings = strings
        }

        /// Stops the daemon (closing its connections) and frees its strings.
        func stop() {
            MHD_stop_daemon(pointer)
            for string in strings { free(string) }
        }
    }

    /// The version of the libmicrohttpd this binary runs with (for `sluice --version`).
    public static var libraryVersion: String { String(cString: MHD_get_version()) }

    public init(configuration: HTTPServerConfiguration, handler: @escaping Handler) {
        self.configuration = configuration
        self.handler = handler
    }

    /// Binds, starts the daemon and its loop thread. Throws ``StartError`` when the port, the certificate or
    /// the library refuses.
    public func start() throws(StartError) {
        do {
            listenFD = try Socket.listen(host: configuration.host, port: configuration.port, exclusive: true)
        } catch {
            throw StartError(description: "\(error)")
        }
        port = Socket.localPort(listenFD)
        let daemon: Daemon
        do {
            daemon = try startDaemon(tls: configuration.tls)
        } catch {
            Socket.close(listenFD)
            throw error
        }
        let loop: EventLoop
        do {
            loop = try EventLoop()
            daemon.token = try loop.register(fd: daemon.epollFD, events: .readable, handler: DaemonReadiness(server: self))
        } catch {
            daemon.stop()
            Socket.close(listenFD)
            throw StartError(description: "HTTP listener loop: \(error)")
        }
        self.daemon = daemon
        self.loop = loop
        guard
            let thread = BackgroundThread.start(
                name: configuration.threadName,
                { [self] in
                    self.drive()
                    self.scheduleSweep()
                    loop.run()
                })
        else {
            daemon.stop()
            self.daemon = nil
            Socket.close(listenFD)
            throw StartError(description: "HTTP listener: cannot start its thread")
        }
        self.thread = thread
    }

    /// A daemon on the listening socket with `tls` (nil: cleartext).
    private func startDaemon(tls: (certificatePEM: String, keyPEM: String)?) throws(StartError) -> Daemon {
        var flags = UInt32(MHD_USE_EPOLL.rawValue)
        var strings: [UnsafeMutablePointer<CChar>] = []
        let context = Unmanaged.passUnretained(self).toOpaque()
        let socket = dup(listenFD)
        guard socket >= 0 else { throw StartError(description: "HTTP listener: dup(): out of descriptors") }
        var options: [MHD_OptionItem] = [
            option(.LISTEN_SOCKET, Int(socket)),
            option(.CONNECTION_LIMIT, configuration.maxConnections),
            option(.CONNECTION_TIMEOUT, configuration.idleTimeoutSeconds),
            option(.CONNECTION_MEMORY_LIMIT, configuration.maxHeaderBytes),
            // Reject what RFC 9112 lets a server reject (whitespace before colons, bare LF, ...): lenient
            // parsing is where request smuggling lives.
            option(.STRICT_FOR_CLIENT, 1),
            MHD_OptionItem(
                option: .NOTIFY_COMPLETED, value: unsafeBitCast(requestCompleted, to: Int.self), ptr_value: context),
            MHD_OptionItem(
                option: .NOTIFY_CONNECTION, value: unsafeBitCast(connectionNotified, to: Int.self), ptr_value: context),
        ]
        if let tls {
            guard MHD_is_feature_supported(.FEATURE_TLS) == .YES else {
                Socket.close(socket)
                throw StartError(description: "HTTP listener with TLS: this libmicrohttpd was built without TLS")
            }
            flags |= UInt32(MHD_USE_TLS.rawValue)
            // TLS 1.2 and 1.3 with AEAD ciphers and ECDHE only, as the gRPC port's intermediate profile.
            let priorities =
                "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
                + "+CHACHA20-POLY1305:-SHA1:-RSA:-DHE-RSA:-CAMELLIA-128-GCM:-CAMELLIA-256-GCM"
            strings = [strdup(tls.certificatePEM), strdup(tls.keyPEM), strdup(priorities)].compactMap { $0 }
            guard strings.count == 3 else {
                for string in strings { free(string) }
                Socket.close(socket)
                throw StartError(description: "HTTP listener: out of memory")
            }
            options.append(MHD_OptionItem(option: .HTTPS_MEM_CERT, value: 0, ptr_value: UnsafeMutableRawPointer(strings[0])))
            options.append(MHD_OptionItem(option: .HTTPS_MEM_KEY, value: 0, ptr_value: UnsafeMutableRawPointer(strings[1])))
            options.append(
                MHD_OptionItem(option: .HTTPS_PRIORITIES, value: 0, ptr_value: UnsafeMutableRawPointer(strings[2])))
        }
        options.append(MHD_OptionItem(option: .END, value: 0, ptr_value: nil))
        guard
            let started = options.withUnsafeBufferPointer({
                CMHD_start_daemon(flags, accessHandler, context, $0.baseAddress)
            })
        else {
            // libmicrohttpd closed `socket` itself.
            for string in strings { free(string) }
            throw StartError(
                description: tls == nil
                    ? "libmicrohttpd refused to start on \(configuration.host):\(port)"
                    : "libmicrohttpd refused to start: is the TLS certificate or key PEM valid?")
        }
        return Daemon(pointer: started, strings: strings)
    }

    /// Serves new connections with a new certificate and key; open connections finish on the old ones. Any
    /// thread; `completion` runs on the listener's thread with nil on success or why the old pair stays.
    ///
    /// A second daemon starts on the same listening socket with the new pair (if it cannot, nothing changes),
    /// then the old daemon is quiesced: it stops accepting but keeps serving its connections, and is stopped once
    /// they have all closed.
    public func replaceTLS(
        certificatePEM: String, keyPEM: String, completion: @escaping @Sendable (String?) -> Void
    ) {
        guard let loop else { return completion("the listener is not running") }
        loop.execute { [self] in
            guard let old = daemon else { return completion("the listener is stopped") }
            let fresh: Daemon
            do {
                fresh = try startDaemon(tls: (certificatePEM, keyPEM))
                fresh.token = try loop.register(
                    fd: fresh.epollFD, events: .readable, handler: DaemonReadiness(server: self))
            } catch {
                return completion("\(error)")
            }
            // The old daemon's duplicate of the listening socket comes back; the new daemon has its own.
            let released = MHD_quiesce_daemon(old.pointer)
            if released >= 0 { Socket.close(released) }
            daemon = fresh
            retiring.append(old)
            drive()
            completion(nil)
        }
    }

    /// Stops the loop, closes the listener and every connection. Any thread but the listener's own.
    public func stop() {
        guard let loop, let thread else { return }
        loop.execute { [self] in
            for daemon in [daemon].compactMap({ $0 }) + retiring { loop.deregister(fd: daemon.epollFD, token: daemon.token) }
            loop.stop()
        }
        thread.join()
        self.thread = nil
        for daemon in retiring { daemon.stop() }
        retiring = []
        daemon?.stop()
        daemon = nil
        Socket.close(listenFD)
        listenFD = -1
        self.loop = nil
    }

    /// Connections open now, on the accepting daemon (read on the loop thread or after ``stop()``; approximate
    /// elsewhere).
    public var openConnections: Int { daemon.map { Int(CMHD_daemon_connection_count($0.pointer)) } ?? 0 }

    // MARK: - Driving the daemons (loop thread)

    /// Lets every daemon do its work, stops retired daemons without connections, then arms a timer for the
    /// nearest timeout.
    fileprivate func drive() {
        guard let loop else { return }
        var timeout: Int64 = -1
        if let daemon {
            let before = CMHD_daemon_connection_count(daemon.pointer)
            _ = MHD_run(daemon.pointer)
            // A connection closed: libmicrohttpd puts the listening socket (taken out of its epoll set at the
            // connection limit) back only on its next run, and no event may come to trigger that run.
            if CMHD_daemon_connection_count(daemon.pointer) < before { _ = MHD_run(daemon.pointer) }
            timeout = Int64(CMHD_timeout_ms(daemon.pointer))
        }
        if !retiring.isEmpty {
            for old in retiring {
                _ = MHD_run(old.pointer)
                let next = Int64(CMHD_timeout_ms(old.pointer))
                if next >= 0 && (timeout < 0 || next < timeout) { timeout = next }
            }
            retiring.removeAll { old in
                guard CMHD_daemon_connection_count(old.pointer) == 0 else { return false }
                loop.deregister(fd: old.epollFD, token: old.token)
                old.stop()
                return true
            }
        }
        guard timeout >= 0 else { return }
        let deadline = monotonicNanos() + UInt64(timeout) * 1_000_000
        // One timer at a time (the heap cannot cancel): only an earlier deadline arms another.
        guard deadline < armedDeadline else { return }
        armedDeadline = deadline
        loop.schedule(at: deadline) { [unowned self] in
            if self.armedDeadline == deadline { self.armedDeadline = .max }
            self.drive()
        }
    }

    // MARK: - Slow requests (loop thread)

    /// Once a second: shuts down connections that have been waiting longer than the idle timeout for a complete
    /// request. libmicrohttpd's own timeout counts from the last byte received, so a client trickling a byte a
    /// second (slowloris) would otherwise keep its connection for ever; this bounds the whole request.
    private func scheduleSweep() {
        guard let loop else { return }
        loop.schedule(at: monotonicNanos() + 1_000_000_000) { [unowned self] in
            let limit = UInt64(max(1, configuration.idleTimeoutSeconds)) * 1_000_000_000
            let now = monotonicNanos()
            var cut = false
            for (socket, since) in waiting where since != 0 && now &- since > limit {
                // libmicrohttpd sees the end of the stream and closes the connection itself (the close notification
                // then drops the entry, so the descriptor is never touched after it is closed).
                _ = shutdown(socket, Int32(SHUT_RDWR))
                waiting[socket] = 0
                cut = true
            }
            if cut { drive() }
            scheduleSweep()
        }
    }

    /// The connection's request is complete (or refused): no deadline while it is answered.
    private func markAnswering(_ connection: OpaquePointer) {
        let socket = CMHD_connection_fd(connection)
        if waiting[socket] != nil { waiting[socket] = 0 }
    }

    fileprivate func connection(_ connection: OpaquePointer, started: Bool) {
        let socket = CMHD_connection_fd(connection)
        guard socket >= 0 else { return }
        waiting[socket] = started ? monotonicNanos() : nil
    }

    // MARK: - Requests (loop thread, called by libmicrohttpd)

    /// One call of the access handler; see `accessHandler` for the protocol.
    fileprivate func access(
        connection: OpaquePointer, url: String, method: String, upload: UnsafePointer<CChar>?,
        uploadSize: UnsafeMutablePointer<Int>, state slot: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> MHD_Result {
        guard let raw = slot.pointee else {
            // First call: headers are complete, the body has not been read.
            let state = RequestState()
            slot.pointee = Unmanaged.passRetained(state).toOpaque()
            let anomalies = CMHD_header_anomalies(connection)
            if anomalies != 0 {
                state.answered = true
                markAnswering(connection)
                let reason: String
                if anomalies & Int32(CMHD_LENGTH_AND_ENCODING) != 0 {
                    reason = "request has both Content-Length and Transfer-Encoding"
                } else if anomalies & Int32(CMHD_REPEATED_LENGTH) != 0 {
                    reason = "request has more than one Content-Length"
                } else if anomalies & Int32(CMHD_INVALID_NAME) != 0 {
                    reason = "a header field name has a character outside RFC 9110's token (e.g. a space before ':')"
                } else {
                    return queue(
                        connection,
                        .text(501, "only Transfer-Encoding: chunked is supported\n", closeConnection: true))
                }
                return queue(connection, .text(400, reason + "\n", closeConnection: true))
            }
            let length = MHD_lookup_connection_value(connection, .HEADER_KIND, "Content-Length")
            if let length, let declared = Int(String(cString: length)), declared > configuration.maxBodyBytes {
                state.answered = true
                markAnswering(connection)
                return queue(
                    connection,
                    .text(
                        413, "request body of \(declared) bytes is over the limit of \(configuration.maxBodyBytes)\n",
                        closeConnection: true))
            }
            if let length, let declared = Int(String(cString: length)) { state.body.reserveCapacity(declared) }
            return .YES
        }
        let state = Unmanaged<RequestState>.fromOpaque(raw).takeUnretainedValue()
        if state.answered {
            // Refused before its body: whatever body arrives is dropped (the connection closes after the answer).
            uploadSize.pointee = 0
            return .YES
        }
        if uploadSize.pointee > 0 {
            let count = uploadSize.pointee
            guard state.body.count + count <= configuration.maxBodyBytes, let upload else {
                // A chunked body past the bound: no status can be queued mid-body, so close the connection.
                return .NO
            }
            upload.withMemoryRebound(to: UInt8.self, capacity: count) {
                state.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: count))
            }
            uploadSize.pointee = 0
            return .YES
        }
        markAnswering(connection)
        let request = HTTPRequest(method: method, path: url, body: state.body, connection: connection)
        state.body = []
        let response = handler(request)
        return queue(connection, response)
    }

    private func queue(_ connection: OpaquePointer, _ response: HTTPResponse) -> MHD_Result {
        let created = response.body.withUnsafeBytes { bytes in
            MHD_create_response_from_buffer(
                bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
        }
        guard let created else { return .NO }
        defer { MHD_destroy_response(created) }
        _ = MHD_add_response_header(created, "Content-Type", response.contentType)
        for (name, value) in response.headers { _ = MHD_add_response_header(created, name, value) }
        if response.closeConnection { _ = MHD_add_response_header(created, "Connection", "close") }
        return MHD_queue_response(connection, UInt32(response.status), created)
    }

    fileprivate func completed(_ connection: OpaquePointer?, _ slot: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) {
        // The answer is out (or the request failed): the next request's clock starts now, if the connection stays.
        if let connection {
            let socket = CMHD_connection_fd(connection)
            if waiting[socket] == 0 { waiting[socket] = monotonicNanos() }
        }
        guard let slot, let raw = slot.pointee else { return }
        Unmanaged<RequestState>.fromOpaque(raw).release()
        slot.pointee = nil
    }
}

/// Per-request state kept by libmicrohttpd between access-handler calls: the body read so far.
private final class RequestState {
    var body: [UInt8] = []
    /// A response was queued before the body (an early refusal); later calls only drain.
    var answered = false
}

/// Readiness of the daemon's epoll descriptor.
private final class DaemonReadiness: EventLoopHandler {
    unowned let server: HTTPServer
    init(server: HTTPServer) { self.server = server }
    func handleEvents(_ events: EventLoop.Events) { server.drive() }
}

private func option(_ name: MHD_OPTION, _ value: Int) -> MHD_OptionItem {
    MHD_OptionItem(option: name, value: value, ptr_value: nil)
}

/// libmicrohttpd's access handler: called once when the headers are in (`*con_cls` is nil), then once per body
/// piece (`*upload_data_size` > 0; the handler consumes it), then once more with size 0 to answer.
private let accessHandler: MHD_AccessHandlerCallback = {
    context, connection, url, method, _, upload, uploadSize, slot in
    guard let context, let connection, let url, let method, let uploadSize, let slot else { return .NO }
    let server = Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue()
    return server.access(
        connection: connection, url: String(cString: url), method: String(cString: method), upload: upload,
        uploadSize: uploadSize, state: slot)
}

/// Frees the per-request state when libmicrohttpd is done with a request (answered, failed or timed out).
private let requestCompleted: MHD_RequestCompletedCallback = { context, connection, slot, _ in
    guard let context else { return }
    Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue().completed(connection, slot)
}

/// Tracks connections opening and closing (the whole-request deadline of the slow-request sweep).
private let connectionNotified: MHD_NotifyConnectionCallback = { context, connection, _, code in
    guard let context, let connection else { return }
    Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue().connection(
        connection, started: code == .CONNECTION_NOTIFY_STARTED)
}
