import Foundation

/// Durable file replacement: write a temporary file, fsync it, rename it over the target, fsync the directory.
enum AtomicFile {
    static func write(_ bytes: Data, to path: String) throws(RolloutError) {
        let directory = (path as NSString).deletingLastPathComponent
        try makeDirectory(directory)
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("open \(temporary)") }
        var ok = bytes.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
        if ok { ok = fsync(fd) == 0 }
        let writeErrno = errno
        close(fd)
        guard ok else {
            unlink(temporary)
            errno = writeErrno
            throw failure("write \(temporary)")
        }
        guard rename(temporary, path) == 0 else {
            let e = failure("rename \(temporary) to \(path)")
            unlink(temporary)
            throw e
        }
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { throw failure("open directory \(directory)") }
        defer { close(dirFD) }
        guard fsync(dirFD) == 0 else { throw failure("fsync directory \(directory)") }
    }

    static func makeDirectory(_ path: String) throws(RolloutError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue { return }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw RolloutError(.internalError, "cannot create directory \(path): \(error.localizedDescription)")
        }
    }

    private static func failure(_ what: String) -> RolloutError {
        RolloutError(.internalError, "cannot \(what): \(String(cString: strerror(errno)))")
    }
}
