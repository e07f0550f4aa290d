import BackgroundThreads
import Foundation
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
    public func startWatching(
        interval: Double = 1.0, onReload: @escaping @Sendable (Result<Void, SecurityConfigError>) -> Void
    ) {
        guard configPath != nil, watcher.withLock({ $0 == nil }) else { return }
        let stop = WatchToken()
        // The baseline is taken now, not on the new thread, so an edit right after this call is not missed.
        let baseline = watchedFiles.map(Self.fingerprint)
        watcher.withLock { $0 = stop }
        BackgroundThread.start(name: "sluice-auth-watch") { [weak self] in
            var last = baseline
            while !stop.stopped.load(ordering: .acquiring) {
                usleep(UInt32(max(0.05, interval) * 1_000_000))
                guard let self else { return }
                let now = self.watchedFiles.map(Self.fingerprint)
                if now == last { continue }
                // Let a writer finish (editors write in steps), then reload and re-fingerprint.
                usleep(50_000)
                let result: Result<Void, SecurityConfigError>
                do throws(SecurityConfigError) {
                    try self.reload()
                    result = .success(())
                } catch {
                    result = .failure(error)
                }
                last = self.watchedFiles.map(Self.fingerprint)
                onReload(result)
            }
        }
    }

    /// Stops the watcher started by `startWatching`.
    public func stopWatching() {
        watcher.withLock { w in
            w?.stopped.store(true, ordering: .releasing)
            w = nil
        }
    }
}

/// Stop flag shared between `AuthService` and its watcher thread.
final class WatchToken: Sendable {
    let stopped = Atomic<Bool>(false)
}
