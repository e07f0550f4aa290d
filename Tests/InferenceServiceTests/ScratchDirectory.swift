import Foundation

/// Registry directories for this target's tests: each test gets a fresh one, all under one directory per test
/// process that is removed when the process exits (the registries they back are read until the test ends, so
/// they cannot be removed at the end of the function that makes them).
enum ScratchDirectory {
    /// The per-process parent, created on first use with its removal registered at exit.
    private static let parent: String = {
        let path = NSTemporaryDirectory() + "sluice-service-tests-\(getpid())"
        atexit {
            try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "sluice-service-tests-\(getpid())")
        }
        return path
    }()

    /// A new directory path (not yet created) named `prefix-UUID` under the per-process parent.
    static func make(_ prefix: String) -> String { parent + "/\(prefix)-\(UUID().uuidString)" }
}
