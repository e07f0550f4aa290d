#if canImport(Glibc)
    import Glibc
#endif

/// Reads whole files for the security configuration, reporting the operating system's reason on failure.
enum FileReading {
    /// All bytes of `path`, or the OS reason it could not be read (`No such file or directory`).
    static func read(_ path: String) -> Result<[UInt8], FileReadError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(FileReadError(reason: String(cString: strerror(errno)))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(FileReadError(reason: String(cString: strerror(errno))))
            }
            if n == 0 { return .success(bytes) }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }
}

/// Why a file could not be read: the `strerror` text.
struct FileReadError: Error {
    let reason: String
}
