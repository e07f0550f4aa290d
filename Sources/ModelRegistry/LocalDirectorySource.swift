#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import DurableFiles

/// The default model source: a directory on local disk.
///
/// Layout (writable by hand or with `sluice models ...`):
/// ```
/// <root>/<model>/model.json        metadata: stages, aliases, tags, metrics, source, sha256, created time
/// <root>/<model>/<version>/model.onnx
/// ```
/// A model directory without `model.json` serves its highest version as Production. A version directory
/// that `model.json` does not list is reported with stage `None`. Every metadata write holds an exclusive
/// `flock` on `<root>/.lock` and replaces `model.json` atomically.
public struct LocalDirectorySource: WritableModelSource {
    public let root: String

    public init(root: String) { self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root }

    public var location: String { root }

    public func listModels() throws(RegistryError) -> [String] {
        guard let entries = Self.directoryEntries(root) else {
            throw RegistryError(.io, "cannot read the model registry directory \(root): \(Self.openReason(root))")
        }
        return entries.filter { name in
            !name.hasPrefix(".") && Self.isDirectory("\(root)/\(name)")
                && (try? VersionSelector.validateModelName(name)) != nil
        }.sorted()
    }

    public func metadata(of model: String) throws(RegistryError) -> ModelMetadata {
        try VersionSelector.validateModelName(model)
        let directory = "\(root)/\(model)"
        guard Self.isDirectory(directory) else { throw RegistryError(.notFound, "model \"\(model)\" is not registered") }
        let onDisk = Self.versionDirectories(directory)
        var metadata: ModelMetadata
        if let bytes = try? AtomicFile.read("\(directory)/model.json") {
            do {
                metadata = try JSONDecoder().decode(ModelMetadata.self, from: Data(bytes))
            } catch {
                throw RegistryError(.io, "\(directory)/model.json is not valid registry metadata: \(error)")
            }
            metadata.name = model
            for version in onDisk where metadata.version(version) == nil {
                metadata.versions.append(VersionMetadata(version: version, source: "\(directory)/\(version)/model.onnx"))
            }
        } else {
            metadata = ModelMetadata(name: model)
            let newest = onDisk.max()
            for version in onDisk {
                metadata.versions.append(
                    VersionMetadata(
                        version: version, stage: version == newest ? .production : .none,
                        source: "\(directory)/\(version)/model.onnx"))
            }
        }
        metadata.versions.sort { $0.version < $1.version }
        return metadata
    }

    public func modelBytes(model: String, version: Int64) throws(RegistryError) -> [UInt8] {
        try VersionSelector.validateModelName(model)
        return try Self.read("\(root)/\(model)/\(version)/model.onnx")
    }

    public func changeToken() -> String {
        var token = ""
        guard let models = Self.directoryEntries(root) else { return "unreadable" }
        for model in models.sorted() where !model.hasPrefix(".") {
            token += model
            var info = stat()
            if stat("\(root)/\(model)/model.json", &info) == 0 {
                token += ":\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
            }
            if stat("\(root)/\(model)", &info) == 0 {
                token += ":\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
            }
            token += ";"
        }
        return token
    }

    public func register(
        model: String, bytes: [UInt8], source: String, stage: Stage, aliases: [String], tags: [String: String],
        metrics: [String: Double], description: String, featureNames: [String]? = nil
    ) throws(RegistryError) -> Int64 {
        try VersionSelector.validateModelName(model)
        for alias in aliases { try VersionSelector.validateAlias(alias) }
        return try withLock { () throws(RegistryError) -> Int64 in
            let directory = "\(root)/\(model)"
            try Self.makeDirectory(directory)
            // A hand-made directory keeps what its layout implied (see the type's documentation).
            var metadata = (try? self.metadata(of: model)) ?? ModelMetadata(name: model)
            let next = max(metadata.versions.map(\.version).max() ?? 0, Self.versionDirectories(directory).max() ?? 0) + 1
            // Write the file into a temp directory, then rename the directory into place: a version
            // directory either exists complete or not at all.
            let temp = "\(directory)/.incoming-\(getpid())-\(next)"
            try Self.makeDirectory(temp)
            try Self.write(bytes, to: "\(temp)/model.onnx")
            guard rename(temp, "\(directory)/\(next)") == 0 else {
                throw RegistryError(DurableFileError.current("rename", "\(directory)/\(next)"))
            }
            AtomicFile.syncDirectory(directory)
            if stage == .production {
                for index in metadata.versions.indices where metadata.versions[index].stage == .production {
                    metadata.versions[index].stage = .archived
                }
            }
            metadata.versions.append(
                VersionMetadata(
                    version: next, stage: stage, description: description, tags: tags, metrics: metrics,
                    source: source, sha256: SHA256Digest.hex(of: bytes),
                    createdUnixMs: Int64((Date().timeIntervalSince1970 * 1000).rounded())))
            for alias in aliases { metadata.aliases[alias] = next }
            if let featureNames { metadata.featureNames = featureNames }
            try write(metadata, of: model)
            return next
        }
    }

    public func updateMetadata(
        of model: String, _ change: (inout ModelMetadata) throws(RegistryError) -> Void
    ) throws(RegistryError) -> ModelMetadata {
        try withLock { () throws(RegistryError) -> ModelMetadata in
            var metadata = try metadata(of: model)
            try change(&metadata)
            try write(metadata, of: model)
            return metadata
        }
    }

    private func write(_ metadata: ModelMetadata, of model: String) throws(RegistryError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(metadata) } catch {
            throw RegistryError(.io, "cannot encode metadata of \(model): \(error)")
        }
        try Self.write(Array(data) + [10], to: "\(root)/\(model)/model.json")
    }

    /// Runs `body` holding the registry's exclusive lock (shared with other processes via flock).
    private func withLock<R>(_ body: () throws(RegistryError) -> R) throws(RegistryError) -> R {
        try Self.makeDirectory(root)
        let fd = open("\(root)/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RegistryError(DurableFileError.current("open", "\(root)/.lock")) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw RegistryError(DurableFileError.current("lock", "\(root)/.lock")) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    // MARK: - File system helpers

    static func read(_ path: String) throws(RegistryError) -> [UInt8] {
        do { return try AtomicFile.read(path) } catch { throw RegistryError(error) }
    }

    static func write(_ bytes: [UInt8], to path: String) throws(RegistryError) {
        do { try AtomicFile.write(bytes, to: path) } catch { throw RegistryError(error) }
    }

    static func directoryEntries(_ path: String) -> [String]? { AtomicFile.entries(path) }

    /// Why `path` cannot be listed, as the operating system puts it (`No such file or directory`).
    static func openReason(_ path: String) -> String {
        guard let directory = opendir(path) else { return String(cString: strerror(errno)) }
        closedir(directory)
        return "unreadable"
    }

    static func isDirectory(_ path: String) -> Bool { AtomicFile.isDirectory(path) }

    static func fileExists(_ path: String) -> Bool { AtomicFile.exists(path) }

    static func versionDirectories(_ modelDirectory: String) -> [Int64] {
        (directoryEntries(modelDirectory) ?? []).compactMap { name in
            guard name.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let number = Int64(name), number > 0,
                fileExists("\(modelDirectory)/\(name)/model.onnx")
            else { return nil }
            return number
        }
    }

    static func makeDirectory(_ path: String) throws(RegistryError) {
        do { try AtomicFile.makeDirectory(path) } catch { throw RegistryError(error) }
    }
}

extension RegistryError {
    init(_ error: DurableFileError) {
        self.init(error.notFound ? .notFound : .io, error.description)
    }
}
