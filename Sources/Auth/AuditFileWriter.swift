import CSystemShims
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
    /// Write-behind: bytes before `writebackStarted` were handed to the disk; those before `cacheDropped`
    /// were also dropped from the page cache.
    private var writebackStarted = 0
    private var cacheDropped = 0
    /// Formatted bytes and record count of a batch whose write failed (fail-closed retries it first).
    private var retry = AuditBytes(capacity: 64)
    private var retryCount = 0
    /// The JSON lines of the batch being written.
    private var out = AuditBytes(capacity: 1 << 16)
    /// Records written by the last successful `write` (its batch plus any retried one).
    private(set) var lastWrittenRecords = 0
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
        writebackStarted = size
        cacheDropped = size
        return true
    }

    deinit {
        retry.release()
        out.release()
    }

    /// Formats and appends a batch of queued entries (after any earlier failed batch), rotating before a line
    /// would push the file past `maxBytes`. False when a write failed (the unwritten lines are kept for the
    /// next attempt).
    func write(_ batch: UnsafeRawBufferPointer, records: Int) -> Bool {
        out.removeAll()
        if !retry.isEmpty {
            out.append(retry.bytes)
            retry.removeAll()
        }
        // A local copy: an inout access to a class property costs a dynamic exclusivity check per record.
        var clock = self.clock
        defer { self.clock = clock }
        var offset = 0
        while let base = batch.baseAddress, offset < batch.count {
            let entry = AuditEntryView(base: base + offset)
            offset += entry.length
            let start = out.count
            entry.appendJSONLine(to: &out, clock: &clock)
            // Rotate before a line that would push the file past maxBytes (unless the file would be empty).
            if size + out.count > maxBytes && size + start > 0 {
                let sent = writeAll(UnsafeRawBufferPointer(start: out.base, count: start))
                guard sent == start else {
                    // Keep what was not written, with the rest of the batch formatted after it.
                    out.removeFirst(sent)
                    while offset < batch.count {
                        let rest = AuditEntryView(base: base + offset)
                        offset += rest.length
                        rest.appendJSONLine(to: &out, clock: &clock)
                    }
                    return keepForRetry(records: records)
                }
                out.removeFirst(start)
                rotate()
            }
        }
        let sent = writeAll(out.bytes)
        guard sent == out.count else {
            out.removeFirst(sent)
            return keepForRetry(records: records)
        }
        writeBehind()
        lastWrittenRecords = records + retryCount
        retryCount = 0
        retryFlag.store(false, ordering: .relaxed)
        return true
    }

    /// Writes `bytes` fully (reopening the file if needed); returns how many were written. On a failure the
    /// file is closed, to be reopened by the next attempt.
    private func writeAll(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        if fd < 0 && !open() { return 0 }
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, base + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                Glibc.close(fd)
                fd = -1
                break
            }
            off += n
        }
        size += off
        return off
    }

    /// Keeps the audit log out of the page cache: starts writeback of what was just appended, and drops what
    /// the previous round handed to the disk (by now written back, or left cached if not). An audit log is
    /// written once and rarely read; caching it would evict more useful pages, and on a fresh machine each
    /// new page costs far more than the bytes copied into it. Failures are harmless and ignored.
    private func writeBehind() {
        guard fd >= 0, size > writebackStarted else { return }
        if writebackStarted > cacheDropped {
            _ = csys_drop_cached(fd, Int64(cacheDropped), Int64(writebackStarted - cacheDropped))
            cacheDropped = writebackStarted
        }
        _ = csys_start_writeback(fd, Int64(writebackStarted), Int64(size - writebackStarted))
        writebackStarted = size
    }

    /// Keeps the unwritten lines in `out` for the next attempt.
    private func keepForRetry(records: Int) -> Bool {
        swap(&retry, &out)
        retryCount += records
        retryFlag.store(true, ordering: .relaxed)
        return false
    }

    /// Drops the retry batch (fail-open), returning how many records it held.
    func discardRetry() -> Int {
        let n = retryCount
        retry.removeAll()
        retry.trim(to: 64)
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
