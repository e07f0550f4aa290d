#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive `flock` on a lock file, shared between processes (replicas on one registry directory).
///
/// `flock` locks belong to the open file description: two `FileLock`s on the same path exclude each other even
/// inside one process, so never take a second one while holding the first. Call ``unlock()`` (e.g. in a
/// `defer`); the lock is also released when the object goes away.
public final class FileLock {
    private var fd: Int32
    /// The lock file.
    public let path: String

    /// Opens (creating if needed) `path` and waits for its exclusive lock.
    public init(_ path: String) throws(DurableFileError) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .current("open", path) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR {
                let error = DurableFileError.current("lock", path)
                close(fd)
                throw error
            }
        }
        self.fd = fd
        self.path = path
    }

    /// Releases the lock (once).
    public func unlock() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}

/// The identity and last change of a file, to notice a replacement without reading the file.
public struct FileStamp: Hashable, Sendable {
    public var inode: UInt64
    public var size: Int64
    public var modifiedNanos: Int64

    /// The stamp of `path`, or `nil` when it does not exist.
    public static func of(_ path: String) -> FileStamp? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileStamp(
            inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modifiedNanos: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }
}
