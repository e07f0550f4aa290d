import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Starts Auth's background threads (audit writer, file watcher) with every signal blocked, so a SIGTERM or
/// SIGHUP meant for the server's signal handling is never delivered to (and never kills the process through)
/// one of them, whenever they are created relative to the server blocking its own signals.
enum BackgroundThread {
    static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        var all = sigset_t()
        var previous = sigset_t()
        sigfillset(&all)
        // A new thread inherits its creator's mask at creation: block around the start...
        pthread_sigmask(SIG_BLOCK, &all, &previous)
        let thread = Thread {
            // ...and again inside, in case the platform creates the thread later.
            var mask = sigset_t()
            sigfillset(&mask)
            pthread_sigmask(SIG_BLOCK, &mask, nil)
            body()
        }
        thread.name = name
        thread.start()
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
}
