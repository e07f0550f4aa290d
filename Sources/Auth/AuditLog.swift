import BackgroundThreads
import FoundationEssentials
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The audit log. The calling thread copies each record's fields as bytes into a shared queue (a lock and a few
/// `memcpy`s: no `String` is retained, nothing is formatted); a dedicated writer thread swaps the queue out
/// about every 10 ms, formats the records as JSON lines, appends them to the file and rotates it by size.
/// `shutdown()` writes everything queued and fsyncs. When the sink fails or the queue is full: `fail-open` drops
/// and counts (`droppedRecords`); `fail-closed` keeps what it has, and `isAccepting` turns false so calls are
/// refused with UNAVAILABLE until the sink recovers.
public final class AuditLog: Sendable {
    private struct Queue: ~Copyable {
        var entries = AuditBytes(capacity: 1 << 16)
        var records = 0
        var stopping = false
        deinit { entries.release() }
    }
    private let queue = Mutex(Queue())
    private let pending = Atomic<Int>(0)
    /// The writer thread, joined by `shutdown()` (a finished thread nobody joins keeps its stack until exit).
    private let writerThread = Mutex<BackgroundThread.Handle?>(nil)
    private let failed = Atomic<Bool>(false)
    private let dropped = Atomic<UInt64>(0)
    private let written = Atomic<UInt64>(0)
    private let finished = Atomic<Bool>(false)
    private let capacity: Int
    /// Queued bytes beyond which the queue counts as full, whatever the record count.
    private let byteCapacity: Int
    private let mode: SecurityConfig.AuditFailureMode
    private let writer: AuditFileWriter

    /// Opens (creating if needed) `path` for appending and starts the writer thread.
    public init(path: String, settings: SecurityConfig.Audit) throws(AuditLogError) {
        guard settings.queueCapacity >= 1, settings.keep >= 1, settings.maxBytes >= 1 else {
            throw AuditLogError(description: "audit settings need queueCapacity, keep and maxBytes of at least 1")
        }
        capacity = settings.queueCapacity
        byteCapacity = max(1 << 20, min(settings.queueCapacity, Int.max / 1024) * 512)
        mode = settings.onFailure
        writer = try AuditFileWriter(path: path, maxBytes: settings.maxBytes, keep: settings.keep)
        let handle = BackgroundThread.start(name: "sluice-audit") { [self] in self.run() }
        writerThread.withLock { $0 = handle }
    }

    /// False when calls must be refused (fail-closed and the sink failed or the queue is full).
    public var isAccepting: Bool {
        mode == .failOpen
            || (!failed.load(ordering: .relaxed) && pending.load(ordering: .relaxed) < capacity)
    }

    /// Records not written: dropped in fail-open mode (queue full, write failure), refused in fail-closed mode
    /// (queue full, sink failing), or offered after shutdown. Expose as a metric.
    public var droppedRecords: UInt64 { dropped.load(ordering: .relaxed) }
    /// Records written to the file.
    public var writtenRecords: UInt64 { written.load(ordering: .relaxed) }
    /// True while the last write failed.
    public var sinkFailed: Bool { failed.load(ordering: .relaxed) }

    /// Enqueues a record. Returns false when it was not queued: the queue is full, the log is shut down, or
    /// (fail-closed) the sink is failing — then the call should be refused with UNAVAILABLE if it still can be.
    /// Records not queued are counted in `droppedRecords`. (Refusing while the sink fails keeps memory bounded:
    /// during an outage the refused calls' own records are not piled up behind the unwritten ones.)
    @discardableResult
    public func record(_ r: AuditRecord) -> Bool {
        record(
            time: r.time, requestID: r.requestID,
            identity: AuditEntry.identity(principal: r.principal, method: r.method, credentialID: r.credentialID),
            peer: r.peer, rpc: r.rpc, model: r.model, selector: r.selector, version: r.resolvedVersion,
            variant: r.variant, allowed: r.allowed, reason: r.reason, grpcStatus: r.grpcStatus,
            latencyMicros: r.latencyMicros)
    }

    /// Enqueues the record of one call decided by `AuthService.authorize` (the hot path: the fields are copied as
    /// bytes, the identity comes pre-escaped from the principal). `decision` nil means the call was not
    /// authorized at all (audited as `anonymous`, allowed).
    @discardableResult
    public func record(
        time: Double, requestID: String, decision: AuthDecision?, peer: String, rpc: AuthRPC, model: String,
        selector: String, version: Int64?, variant: String, grpcStatus: Int, latencyMicros: Int64
    ) -> Bool {
        switch decision {
        case .none, .allowed:
            return record(
                time: time, requestID: requestID,
                identity: decision?.principal?.auditIdentity ?? AuthService.anonymous.auditIdentity, peer: peer,
                rpc: rpc.name, model: model, selector: selector, version: version, variant: variant, allowed: true,
                reason: "", grpcStatus: grpcStatus, latencyMicros: latencyMicros)
        case .denied(let d):
            return record(
                time: time, requestID: requestID, identity: AuditEntry.identity(.denied(d)), peer: peer,
                rpc: rpc.name, model: model, selector: selector, version: version, variant: variant, allowed: false,
                reason: "\(d.code): \(d.reason)", grpcStatus: grpcStatus, latencyMicros: latencyMicros)
        }
    }

    @inline(__always)
    private func record(
        time: Double, requestID: String, identity: [UInt8], peer: String, rpc: String, model: String,
        selector: String, version: Int64?, variant: String, allowed: Bool, reason: String, grpcStatus: Int,
        latencyMicros: Int64
    ) -> Bool {
        if mode == .failClosed && failed.load(ordering: .relaxed) {
            dropped.add(1, ordering: .relaxed)
            return false
        }
        let ok = queue.withLock { q -> Bool in
            guard !q.stopping, q.records < capacity, q.entries.count < byteCapacity else { return false }
            AuditEntry.append(
                to: &q.entries, time: time, requestID: requestID, identity: identity, peer: peer, rpc: rpc,
                model: model, selector: selector, version: version, variant: variant, allowed: allowed,
                reason: reason, grpcStatus: grpcStatus, latencyMicros: latencyMicros)
            q.records += 1
            pending.store(q.records, ordering: .relaxed)
            return true
        }
        if !ok { dropped.add(1, ordering: .relaxed) }
        return ok
    }

    /// Blocks until every record enqueued before the call has been written (or dropped), at most `timeout`
    /// seconds. Returns false on timeout (a fail-closed sink that keeps failing).
    @discardableResult
    public func flush(timeout: Double = 5) -> Bool {
        let deadline = monotonicNanos() + UInt64(max(0, timeout) * 1e9)
        while queue.withLock({ $0.records > 0 }) || writer.hasRetryBatch {
            if finished.load(ordering: .acquiring) { return true }
            if monotonicNanos() > deadline { return false }
            usleep(2000)
        }
        writer.waitIdle()
        return !writer.hasRetryBatch
    }

    /// Writes everything queued, fsyncs, and stops the writer. Later records are refused.
    public func shutdown() {
        queue.withLock { $0.stopping = true }
        while !finished.load(ordering: .acquiring) { usleep(1000) }
        writerThread.withLock { handle in
            defer { handle = nil }
            return handle
        }?.join()
    }

    private func run() {
        var batch = AuditBytes(capacity: 1 << 16)
        defer { batch.release() }
        while true {
            // Double buffering: swap the queue's buffer with the writer's (empty) spare, so neither side copies
            // or allocates once both have grown to the working size.
            let (stopping, records) = queue.withLock { q -> (Bool, Int) in
                swap(&q.entries, &batch)
                let n = q.records
                q.records = 0
                pending.store(0, ordering: .relaxed)
                // Busy before the lock is released, so `flush()` never sees "queue empty, writer idle" while
                // this batch is in flight.
                writer.beginBusy()
                return (q.stopping, n)
            }
            let ok = writer.write(batch.bytes, records: records)
            if ok {
                written.add(UInt64(writer.lastWrittenRecords), ordering: .relaxed)
                failed.store(false, ordering: .relaxed)
            } else {
                failed.store(true, ordering: .relaxed)
                if mode == .failOpen {
                    dropped.add(UInt64(writer.discardRetry()), ordering: .relaxed)
                }
            }
            writer.endBusy()
            if stopping {
                if ok || mode == .failOpen || writer.giveUp() {
                    writer.close()
                    finished.store(true, ordering: .releasing)
                    return
                }
            }
            batch.removeAll()
            batch.trim(to: 4 << 20)
            // Let records accumulate: one write per ~10 ms keeps syscalls per record far below one under load
            // (flushing stays well within the one-second bound). Skip the nap when the queue is half full.
            if !ok {
                usleep(200_000)
            } else if pending.load(ordering: .relaxed) < capacity / 2 {
                usleep(10_000)
            }
        }
    }
}

/// Why the audit log could not be opened.
public struct AuditLogError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
