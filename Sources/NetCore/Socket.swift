internal import CSystemShims
#if canImport(Glibc)
import Glibc
#endif

/// Thin wrappers over the socket calls the server needs; descriptors are plain `Int32`s owned by the caller.
public enum Socket {
    /// Opens a non-blocking listener with SO_REUSEPORT on a numeric IPv4/IPv6 address.
    public static func listen(host: String, port: Int, backlog: Int32 = 1024) throws(SystemError) -> Int32 {
        let fd = csys_listen_tcp(host, Int32(port), backlog)
        guard fd >= 0 else {
            let code = -fd
            if code == EINVAL { throw SystemError("listen on '\(host)': not a numeric IP address", errno: code) }
            throw SystemError("listen on \(host.contains(":") ? "[\(host)]" : host):\(port)", errno: code)
        }
        return fd
    }

    /// Accepts one connection (non-blocking, TCP_NODELAY). `nil` when none is pending.
    public static func accept(_ listener: Int32) -> (fd: Int32, peer: String)? {
        var peer = [CChar](repeating: 0, count: 64)
        let fd = csys_accept(listener, &peer, Int32(peer.count))
        guard fd >= 0 else { return nil }
        return (fd, String(decoding: peer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
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
