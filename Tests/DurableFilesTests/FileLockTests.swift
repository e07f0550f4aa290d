import DurableFiles
import Glibc
import Synchronization
import Testing

/// Probes a lock file from a separate open file description (as another process would), without blocking.
private func canLock(_ path: String) -> Bool {
    let fd = open(path, O_RDWR | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    if flock(fd, LOCK_EX | LOCK_NB) == 0 {
        flock(fd, LOCK_UN)
        return true
    }
    return false
}

@Suite("FileLock")
struct FileLockTests {
    @Test func createsLockFileAndExcludesOtherHandles() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = "\(dir.path)/registry.lock"
        let lock = try FileLock(path)
        #expect(lock.path == path)
        #expect(AtomicFile.exists(path))
        #expect(!canLock(path))
        lock.unlock()
        #expect(canLock(path))
        lock.unlock()  // a second unlock is a no-op
        #expect(canLock(path))
    }

    @Test func releasedWhenObjectGoesAway() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = "\(dir.path)/lock"
        do {
            let lock = try FileLock(path)
            #expect(!canLock(path))
            withExtendedLifetime(lock) {}
        }
        #expect(canLock(path))
    }

    @Test func secondLockWaitsForFirst() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = "\(dir.path)/lock"
        let first = try FileLock(path)
        let acquired = Flag()
        let thread = WaiterThread {
            let second = try? FileLock(path)
            acquired.set()
            second?.unlock()
        }
        // The waiter cannot get the lock while the first is held; the probe is the deterministic check.
        #expect(!canLock(path))
        #expect(!acquired.isSet)
        first.unlock()
        thread.join()
        #expect(acquired.isSet)
        #expect(canLock(path))
    }

    @Test func lockInMissingDirectoryThrowsNamingPath() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = "\(dir.path)/missing/lock"
        do {
            _ = try FileLock(path)
            Issue.record("lock in a missing directory succeeded")
        } catch {
            #expect(error.notFound)
            #expect(error.path == path)
            #expect(error.operation == "open")
        }
    }
}

/// A set-once flag readable from another thread.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// A joinable pthread running one closure (the waiter blocks in `flock`, so it must not be a Swift task).
final class WaiterThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let unmanaged = Unmanaged.passRetained(self)
        pthread_create(&handle, nil, { raw in
            let me = Unmanaged<WaiterThread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            return nil
        }, unmanaged.toOpaque())
    }
    func join() { pthread_join(handle, nil) }
}
