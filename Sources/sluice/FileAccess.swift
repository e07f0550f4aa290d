#if canImport(Glibc)
    import Glibc
#endif

/// File reads and writes for the CLI whose errors name the file and the operating system's reason
/// (`cannot read rows.csv: No such file or directory`), never a Foundation error dump.
enum FileAccess {
    /// A failed read or write, with the path and the OS reason.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// All bytes of `path`.
    static func read(_ path: String) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot read \(path): \(reason())") }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            throw Failure(description: "cannot read \(path): Is a directory")
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "cannot read \(path): \(reason())")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }

    /// A file open for writing; closed when the last reference goes away.
    final class OutputFile {
        private let fd: Int32

        /// Takes ownership of `fd`: it is closed in `deinit`.
        fileprivate init(fd: Int32) { self.fd = fd }

        deinit { close(fd) }

        /// Writes all of `text`; false (with `errno` set) when the system refuses part of it.
        func write(_ text: String) -> Bool { FileAccess.write(text, to: fd) }
    }

    /// Opens `path` for writing (created or truncated), failing early with the OS reason.
    static func openForWriting(_ path: String) throws(Failure) -> OutputFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot write \(path): \(reason())") }
        return OutputFile(fd: fd)
    }

    /// Writes `text` to standard error at once, unbuffered (as `FileHandle.standardError.write` did).
    static func writeStandardError(_ text: String) { _ = write(text, to: 2) }

    /// Writes `text` to standard output at once, bypassing stdio's buffer (as `FileHandle.standardOutput.write`
    /// did).
    static func writeStandardOutput(_ text: String) { _ = write(text, to: 1) }

    /// Writes all UTF-8 bytes of `text` to `fd`, retrying on `EINTR` and short writes; false on any other failure.
    private static func write(_ text: String, to fd: Int32) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    /// The text of the current `errno`.
    static func reason() -> String { String(cString: strerror(errno)) }
}
