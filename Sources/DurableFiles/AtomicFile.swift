#if canImport(Glibc)
import Glibc
#endif

/// A file operation that failed, with the path and the system's reason.
public struct DurableFileError: Error, Sendable, CustomStringConvertible {
    /// What was being done (`create`, `write`, `rename`, ...).
    public let operation: String
    public let path: String
    /// `strerror(errno)`.
    public let reason: String
    /// True when the file or directory does not exist.
    public let notFound: Bool

    public var description: String { "cannot \(operation) \(path): \(reason)" }

    /// The error for `errno` right now.
    public static func current(_ operation: String, _ path: String) -> DurableFileError {
        let code = errno
        return DurableFileError(
            operation: operation, path: path, reason: String(cString: strerror(code)), notFound: code == ENOENT)
    }
}

/// Crash-safe file writes for state that must survive (registry metadata, rollout state): temp file in the
/// same directory, fsync, rename over the target, fsync the directory. A reader (or a process restarted
/// after a crash) sees either the old content or the new, never a mix.
public enum AtomicFile {
    /// Replaces `path` with `bytes` atomically and durably.
    public static func write(_ bytes: some Collection<UInt8>, to path: String) throws(DurableFileError) {
        let directory = parentDirectory(of: path)
        let temp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .current("create", temp) }
        let contiguous = Array(bytes)
        var written = 0
        while written < contiguous.count {
            let n = contiguous.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                let error = DurableFileError.current("write", temp)
                close(fd)
                unlink(temp)
                throw error
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            let error = DurableFileError.current("fsync", temp)
            close(fd)
            unlink(temp)
            throw error
        }
        close(fd)
        guard rename(temp, path) == 0 else {
            let error = DurableFileError.current("rename", path)
            unlink(temp)
            throw error
        }
        syncDirectory(directory)
    }

    /// Reads a whole file.
    public static func read(_ path: String) throws(DurableFileError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .current("open", path) }
        defer { close(fd) }
        // One buffer of exactly the size fstat reports (a model file is megabytes: growing an array by appends
        // would leave up to half of its capacity unused while the model loads); more only if the file grew.
        var info = stat()
        let expected = fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : 0
        var failed = false
        var result = [UInt8](unsafeUninitializedCapacity: expected) { buffer, count in
            guard let base = buffer.baseAddress else { return }
            while count < expected {
                let n = Glibc.read(fd, base + count, expected - count)
                if n < 0 {
                    if errno == EINTR { continue }
                    failed = true
                    return
                }
                if n == 0 { return }  // the file shrank while being read
                count += n
            }
        }
        if failed { throw .current("read", path) }
        if result.count < expected { return result }
        var chunk = [UInt8](repeating: 0, count: expected == 0 ? 1 << 16 : 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .current("read", path)
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Makes `path` (and missing parents) a directory.
    public static func makeDirectory(_ path: String) throws(DurableFileError) {
        if isDirectory(path) { return }
        let parent = parentDirectory(of: path)
        if parent != path && parent != "." && parent != "/" && !isDirectory(parent) { try makeDirectory(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw .current("create directory", path) }
    }

    /// Flushes a directory's entries (after a rename into it).
    public static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    /// Names in a directory (without `.` and `..`), or nil when it cannot be read.
    public static func entries(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
