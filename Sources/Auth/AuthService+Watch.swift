import BackgroundThreads
import FoundationEssentials
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension AuthService {
    /// The files the current policy was loaded from: the configuration, the JWKS file and PEM/secret key files.
    public var watchedFiles: [String] {
        guard let configPath else { return [] }
        let jwt = currentConfig?.jwt
        return [configPath] + (jwt?.jwksFile.map { [$0] } ?? []) + (jwt?.keys.map(\.file) ?? [])
    }

    /// A fingerprint of a file (inode, size, mtime); "missing" when it cannot be stat'ed.
    static func fingerprint(_ path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "missing" }
        // Metadata alone can miss an edit: timestamps are as coarse as the kernel tick, and a replaced file
        // may get its predecessor's inode number and the same size. Configuration files are small, so the
        // content is hashed too (FNV-1a).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        if st.st_size <= 4 << 20, let file = fopen(path, "rb") {
            defer { fclose(file) }
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
                if n <= 0 { break }
                for byte in buffer[0..<n] { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            }
        }
        return "\(st.st_ino):\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):\(hash)"
    }

    /// Reloads whenever one of `watchedFiles` changes (polled every `interval` seconds on a background thread),
    /// and reports each attempt to `onReload` (log failures: the old policy stays in force). Call
    /// `stopWatching()` before shutdown. SIGHUP handling stays with the caller: call `reload()` from it.
    ///
    /// The thread refers to this service without a reference count (a weak reference would give the service a
    /// side table, making every retain and release of it on the request path slower); the service's `deinit`
    /// stops the thread and waits for it, so the thread never outlives it.
    public func startWatching(
        interval: Double = 1.0, onReload: @escaping @Sendable (Result<Void, SecurityConfigError>) -> Void
    ) {
        guard configPath != nil, watcher.withLock({ $0 == nil }) else { return }
        let stop = WatchToken()
        // The baseline is taken now, not on the new thread, so an edit right after this call is not missed.
        let baseline = watchedFiles.map(Self.fingerprint)
        watcher.withLock { $0 = stop }
        watchThreads.withLock { $0.append(stop) }
        let service = UnownedService(Unmanaged.passUnretained(self))
        let slice: UInt32 = 50_000  // µs: the stop flag is checked at least this often
        // Detached: `deinit` waits on the token's `exited` flag, not on the thread.
        BackgroundThread.start(name: "sluice-auth-watch") {
            defer { stop.exited.store(true, ordering: .releasing) }
            var last = baseline
            while true {
                var waited = 0.0
                while waited < max(0.05, interval) {
                    if stop.stopped.load(ordering: .acquiring) { return }
                    usleep(slice)
                    waited += Double(slice) / 1_000_000
                }
                if stop.stopped.load(ordering: .acquiring) { return }
                // Lent without a retain: deinit waits for this thread, and no strong reference made here could
                // end up running deinit on this thread.
                let reloaded: Result<Void, SecurityConfigError>? = service.reference._withUnsafeGuaranteedRef { this in
                    let now = this.watchedFiles.map(Self.fingerprint)
                    if now == last { return nil }
                    // Let a writer finish (editors write in steps), then reload and re-fingerprint.
                    usleep(50_000)
                    let result: Result<Void, SecurityConfigError>
                    do throws(SecurityConfigError) {
                        try this.reload()
                        result = .success(())
                    } catch {
                        result = .failure(error)
                    }
                    last = this.watchedFiles.map(Self.fingerprint)
                    return result
                }
                if let reloaded { onReload(reloaded) }
            }
        }?.detach()
    }

    /// Stops the watcher started by `startWatching`.
    public func stopWatching() {
        watcher.withLock { w in
            w?.stopped.store(true, ordering: .releasing)
            w = nil
        }
    }

    /// Stops every watcher thread and waits until they have exited (from `deinit`).
    func joinWatchThreads() {
        for token in watchThreads.withLock({ $0 }) {
            token.stopped.store(true, ordering: .releasing)
            while !token.exited.load(ordering: .acquiring) { usleep(1000) }
        }
    }
}

/// An unretained reference to a service, handed to its watcher thread (see `startWatching`).
struct UnownedService: @unchecked Sendable {
    let reference: Unmanaged<AuthService>
    init(_ reference: Unmanaged<AuthService>) { self.reference = reference }
}

/// Stop flag shared between `AuthService` and its watcher thread.
final class WatchToken: Sendable {
    let stopped = Atomic<Bool>(false)
    /// Set by the thread as it returns.
    let exited = Atomic<Bool>(false)
}
