internal import CSystemShims

#if canImport(Glibc)
    import Glibc
#endif

/// Thin wrappers over the socket calls the server needs; descriptors are plain `Int32`s owned by the caller.
public enum Socket {
    /// Opens a non-blocking listener with SO_REUSEPORT on a numeric IPv4/IPv6 address.
    ///
    /// With `exclusive`, first checks with a plain bind that no other socket holds the port: SO_REUSEPORT alone
    /// would let a second server silently share the port of a running one.
    public static func listen(
        host: String, port: Int, backlog: Int32 = 1024, exclusive: Bool = false
    ) throws(SystemError) -> Int32 {
        if exclusive && port != 0 {
            let probe = csys_listen_tcp(host, Int32(port), 0, 0)
            if probe < 0 { throw error(-probe, host: host, port: port) }
            Glibc.close(probe)
        }
        let fd = csys_listen_tcp(host, Int32(port), backlog, 1)
        guard fd >= 0 else { throw error(-fd, host: host, port: port) }
        return fd
    }

    private static func error(_ code: Int32, host: String, port: Int) -> SystemError {
        if code == EINVAL { return SystemError("listen on '\(host)': not a numeric IP address", errno: code) }
        return SystemError("listen on \(host.contains(":") ? "[\(host)]" : host):\(port)", errno: code)
    }

    /// What one `accept` produced.
    public enum AcceptResult {
        case accepted(fd: Int32, peer: String)
        /// Nothing pending (or the peer left before it was accepted).
        case none
        /// A resource problem (EMFILE, ENFILE, ENOBUFS, ENOMEM): back off before accepting again.
        case exhausted(errno: Int32)
    }

    /// Accepts one connection (non-blocking, TCP_NODELAY).
    public static func accept(_ listener: Int32) -> AcceptResult {
        var peer = [CChar](repeating: 0, count: 64)
        let fd = csys_accept(listener, &peer, Int32(peer.count))
        guard fd >= 0 else {
            let code = errno
            switch code {
            case EMFILE, ENFILE, ENOBUFS, ENOMEM: return .exhausted(errno: code)
            default: return .none
            }
        }
        return .accepted(
            fd: fd, peer: String(decoding: peer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Raises the soft open-file limit to the hard limit (a server holds one descriptor per connection).
    public static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// The local port of a bound socket.
    public static func localPort(_ fd: Int32) -> Int { Int(csys_local_port(fd)) }

    /// Reads into `buffer`: the count, 0 at end of stream, or `-errno`.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        csys_read(fd, buffer.baseAddress, UInt(buffer.count))
    }

    /// Writes from `buffer`: the count or `-errno`.
    public static func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Int {
        csys_write(fd, buffer.baseAddress, UInt(buffer.count))
    }

    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    /// `EAGAIN`, for comparing with negative results.
    public static let wouldBlock = -Int(EAGAIN)
}
