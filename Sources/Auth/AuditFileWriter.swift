import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The file side of the audit log, used only by the writer thread (plus the idle flag read by `flush`).
final class AuditFileWriter: @unchecked Sendable {
    // @unchecked: all mutable state except `busy` is touched only by the single writer thread.
    private let path: String
    private let maxBytes: Int
    private let keep: Int
    private var fd: Int32 = -1
    private var size = 0
    /// Formatted bytes and record count of a batch whose write failed (fail-closed retries it first).
    private var retry: [UInt8] = []
    private var retryCount = 0
    private let retryFlag = Atomic<Bool>(false)
    private let busy = Atomic<Bool>(false)
    private var shutdownAttempts = 0
    private var clock = AuditTimestampCache()

    init(path: String, maxBytes: Int, keep: Int) throws(AuditLogError) {
        self.path = path
        self.maxBytes = maxBytes
        self.keep = keep
        guard open() else {
            throw AuditLogError(description: "cannot open audit log \(path): \(String(cString: strerror(errno)))")
        }
    }

    var hasRetryBatch: Bool { retryFlag.load(ordering: .relaxed) }
    func beginBusy() { busy.store(true, ordering: .releasing) }
    func endBusy() { busy.store(false, ordering: .releasing) }
    func waitIdle() { while busy.load(ordering: .acquiring) { usleep(500) } }

    private func open() -> Bool {
        fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        var st = stat()
        size = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        return true
    }

    /// Formats and appends a batch (after any earlier failed batch), rotating before a line would push the file
    /// past `maxBytes`. False when a write failed (the unwritten bytes are kept for the next attempt).
    func write(_ batch: [AuditRecord], buffer: inout [UInt8]) -> Bool {
        buffer.removeAll(keepingCapacity: true)
        if !retry.isEmpty {
            swap(&retry, &buffer)
            retry.removeAll()
        }
        // A local copy: an inout access to a class property costs a dynamic exclusivity check per record.
        var clock = self.clock
        defer { self.clock = clock }
        for (k, r) in batch.enumerated() {
            let start = buffer.count
            r.appendJSONLine(to: &buffer, clock: &clock)
            // Rotate before a line that would push the file past maxBytes (unless the file would be empty).
            if size + buffer.count > maxBytes && size + start > 0 {
                let line = Array(buffer[start...])
                buffer.removeSubrange(start...)
                guard flushBuffer(&buffer) else {
                    keepForRetry(buffer + line, rest: batch[(k + 1)...], count: batch.count)
                    return false
                }
                rotate()
                buffer.append(contentsOf: line)
            }
        }
        guard flushBuffer(&buffer) else {
            keepForRetry(buffer, rest: [], count: batch.count)
            return false
        }
        retryCount = 0
        retryFlag.store(false, ordering: .relaxed)
        return true
    }

    /// Writes `buffer` fully and empties it; on failure leaves the unwritten tail in it.
    private func flushBuffer(_ buffer: inout [UInt8]) -> Bool {
        if buffer.isEmpty { return true }
        if fd < 0 && !open() { return false }
        var off = 0
        let ok = buffer.withUnsafeBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return true }
            while off < raw.count {
                let n = Glibc.write(fd, base + off, raw.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                off += n
            }
            return true
        }
        size += off
        buffer.removeFirst(off)
        if !ok {
            Glibc.close(fd)
            fd = -1
        }
        return ok
    }

    /// Keeps unwritten bytes (and the formatted records not reached yet) for the next attempt.
    private func keepForRetry(_ pending: [UInt8], rest: ArraySlice<AuditRecord>, count: Int) {
        var bytes = pending
        for r in rest { r.appendJSONLine(to: &bytes, clock: &clock) }
        retry = bytes
        retryCount += count
        retryFlag.store(true, ordering: .relaxed)
    }

    /// Drops the retry batch (fail-open), returning how many records it held.
    func discardRetry() -> Int {
        let n = retryCount
        retry.removeAll()
        retryCount = 0
        retryFlag.store(false, ordering: .relaxed)
        return n
    }

    /// At shutdown in fail-closed mode with a failing sink: retry a few times, then give up.
    func giveUp() -> Bool {
        shutdownAttempts += 1
        return shutdownAttempts >= 10
    }

    /// `path` → `path.1` → ... → `path.<keep>` (the oldest is deleted), then a fresh `path`.
    private func rotate() {
        fsync(fd)
        Glibc.close(fd)
        fd = -1
        unlink("\(path).\(keep)")
        if keep > 1 {
            for k in stride(from: keep - 1, through: 1, by: -1) { rename("\(path).\(k)", "\(path).\(k + 1)") }
        }
        rename(path, "\(path).1")
        size = 0
        _ = open()
        if let slash = path.lastIndex(of: "/") {
            let dir = Glibc.open(String(path[..<slash]).isEmpty ? "/" : String(path[..<slash]), O_RDONLY | O_DIRECTORY)
            if dir >= 0 {
                fsync(dir)
                Glibc.close(dir)
            }
        }
    }

    func close() {
        if fd >= 0 {
            fsync(fd)
            Glibc.close(fd)
            fd = -1
        }
    }
}
