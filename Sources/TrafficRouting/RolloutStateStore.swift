import DurableFiles

/// Where the rollout state that replicas share is kept: the structure document of each model's rollout (compared
/// and swapped under the store's lock), one statistics document per replica, and a lease document.
///
/// ``LocalRolloutStateStore`` keeps them as files beside a local registry. Another model source (an MLflow
/// registry) implements the same operations, e.g. with registered-model tags (see `docs/routing.md`).
/// The documents are opaque bytes here: ``RolloutManager`` encodes, decodes and checks them.
public protocol RolloutStateStore: Sendable {
    /// Where the state is (for messages).
    var location: String { get }
    /// The models that may have rollout state; `nil` when the store cannot be listed.
    func models() -> [String]?
    /// Where `model`'s structure document is (for messages).
    func structureLocation(model: String) -> String
    /// A cheap value that changes whenever `model`'s structure document is replaced; `nil` when there is none.
    func structureVersion(model: String) -> String?
    /// `model`'s structure document; `nil` when there is none.
    func readStructure(model: String) throws(RolloutError) -> [UInt8]?
    /// Replaces `model`'s structure document (call inside ``exclusively(_:)``, after the generation check).
    func writeStructure(model: String, _ bytes: [UInt8]) throws(RolloutError)
    /// Runs `body` holding the store's exclusive lock, shared by every replica (a structure's compare-and-swap
    /// and the lease's updates run inside it). Not reentrant.
    func exclusively<R>(_ body: () throws(RolloutError) -> R) throws(RolloutError) -> R
    /// One replica's statistics document of `model`; `nil` when there is none.
    func readStatistics(model: String, replica: String) -> [UInt8]?
    /// Replaces this replica's statistics document (only this replica writes it: no lock needed).
    func writeStatistics(model: String, replica: String, _ bytes: [UInt8]) throws(RolloutError)
    /// Every replica's statistics documents of `model` but `excluded`'s, ordered by replica.
    func allStatistics(model: String, except excluded: String) -> [(replica: String, bytes: [UInt8])]
    /// `model`'s lease document; `nil` when there is none.
    func readLease(model: String) -> [UInt8]?
    /// Replaces `model`'s lease document (call inside ``exclusively(_:)``).
    func writeLease(model: String, _ bytes: [UInt8]) throws(RolloutError)
}

/// Rollout state as files beside a local registry directory, each written atomically (`AtomicFile`):
///
/// ```
/// <root>/.lock                                  the registry's flock (held by every structure and lease write)
/// <root>/<model>/rollout.json                   the structure
/// <root>/<model>/rollout-stats/<replica>.json   one replica's statistics
/// <root>/<model>/rollout-lease/lease.json       the lease (a directory of its own, so renewing it does not touch
///                                               the model directory the registry watches)
/// ```
public struct LocalRolloutStateStore: RolloutStateStore {
    /// The registry directory, without a trailing `/` (except for `/` itself).
    public let root: String

    /// A store under `root`; touches no files until the first read or write.
    public init(root: String) { self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root }

    /// The registry directory.
    public var location: String { root }

    /// `<root>/<model>`; `model` must already be a validated model name, since it becomes a path component.
    func modelDirectory(_ model: String) -> String { root + "/" + model }

    /// A replica's name as a file name: characters other than letters, digits, `.`, `_` and `-` become `_`.
    static func fileName(replica: String) -> String {
        let safe = replica.unicodeScalars.map { c -> Character in
            (c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "." || c == "_" || c == "-"))
                ? Character(c) : "_"
        }
        let name = String(safe)
        return name.isEmpty || name.hasPrefix(".") ? "_" + name : name
    }

    /// The entries of `root` that do not start with `.`, sorted; nil when `root` cannot be listed.
    public func models() -> [String]? {
        AtomicFile.entries(root)?.filter { !$0.hasPrefix(".") }.sorted()
    }

    /// `<root>/<model>/rollout.json`.
    public func structureLocation(model: String) -> String { modelDirectory(model) + "/rollout.json" }

    /// The file's inode, size and modification time (ns) joined with `:`, so an atomic rename is seen even when
    /// size and time happen to match.
    public func structureVersion(model: String) -> String? {
        FileStamp.of(structureLocation(model: model)).map { "\($0.inode):\($0.size):\($0.modifiedNanos)" }
    }

    /// Nil when `rollout.json` does not exist; a file that exists but cannot be read is an `.internalError`.
    public func readStructure(model: String) throws(RolloutError) -> [UInt8]? {
        let path = structureLocation(model: model)
        guard AtomicFile.exists(path) else { return nil }
        do { return try AtomicFile.read(path) } catch {
            throw RolloutError(.internalError, "cannot read \(path): \(error)")
        }
    }

    public func writeStructure(model: String, _ bytes: [UInt8]) throws(RolloutError) {
        try write(bytes, to: structureLocation(model: model))
    }

    /// Takes the registry's `flock` on `<root>/.lock` (creating `root` if needed), blocking until it is free,
    /// and releases it when `body` returns or throws.
    public func exclusively<R>(_ body: () throws(RolloutError) -> R) throws(RolloutError) -> R {
        let lock: FileLock
        do {
            try AtomicFile.makeDirectory(root)
            lock = try FileLock(root + "/.lock")
        } catch {
            throw RolloutError(.internalError, "cannot lock the registry: \(error)")
        }
        defer { lock.unlock() }
        return try body()
    }

    /// `<root>/<model>/rollout-stats`, one `<replica>.json` per replica.
    func statisticsDirectory(_ model: String) -> String { modelDirectory(model) + "/rollout-stats" }

    /// Nil when the file is missing or unreadable: a replica's statistics are advisory, never an error.
    public func readStatistics(model: String, replica: String) -> [UInt8]? {
        try? AtomicFile.read(statisticsDirectory(model) + "/" + Self.fileName(replica: replica) + ".json")
    }

    public func writeStatistics(model: String, replica: String, _ bytes: [UInt8]) throws(RolloutError) {
        try write(bytes, to: statisticsDirectory(model) + "/" + Self.fileName(replica: replica) + ".json")
    }

    /// The `replica` of each result is the file name without `.json`, i.e. the sanitized name from
    /// `fileName(replica:)`, not necessarily the original string. Unreadable files are skipped.
    public func allStatistics(model: String, except excluded: String) -> [(replica: String, bytes: [UInt8])] {
        let directory = statisticsDirectory(model)
        guard let names = AtomicFile.entries(directory) else { return [] }
        let skip = Self.fileName(replica: excluded) + ".json"
        return names.sorted().compactMap { name in
            guard name.hasSuffix(".json"), name != skip, let bytes = try? AtomicFile.read(directory + "/" + name)
            else { return nil }
            return (String(name.dropLast(5)), bytes)
        }
    }

    /// `<root>/<model>/rollout-lease/lease.json`.
    func leasePath(_ model: String) -> String { modelDirectory(model) + "/rollout-lease/lease.json" }

    /// Nil when there is no lease file or it cannot be read.
    public func readLease(model: String) -> [UInt8]? { try? AtomicFile.read(leasePath(model)) }

    public func writeLease(model: String, _ bytes: [UInt8]) throws(RolloutError) {
        try write(bytes, to: leasePath(model))
    }

    /// Writes atomically, creating the directory first.
    func write(_ bytes: [UInt8], to path: String) throws(RolloutError) {
        do {
            try AtomicFile.makeDirectory(AtomicFile.parentDirectory(of: path))
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw RolloutError(.internalError, "\(error)")
        }
    }
}
