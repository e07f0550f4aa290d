internal import CSystemShims

#if canImport(Glibc)
    import Glibc
#endif

/// Turns SIGTERM, SIGINT and SIGHUP into readable events on a descriptor (signalfd). Create it on the main
/// thread before starting other threads, so that they inherit the blocked signal mask.
public final class SignalWatcher {
    public let fd: Int32

    public init() throws(SystemError) {
        csys_ignore_sigpipe()
        let fd = csys_signalfd_for_shutdown()
        guard fd >= 0 else { throw SystemError("signalfd", errno: errno) }
        self.fd = fd
    }

    /// The pending signal number, or `nil`.
    public func next() -> Int32? {
        let signal = csys_signalfd_read(fd)
        return signal > 0 ? signal : nil
    }

    deinit { Socket.close(fd) }
}
