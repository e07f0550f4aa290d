#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import DurableFiles

/// The MLflow source's local cache: the last state synced from MLflow and the ONNX files of loaded versions,
/// so that a restart while MLflow is down serves what was served before.
///
/// Layout: `<dir>/index.json` (written atomically after every change) and `<dir>/artifacts/<model>/<version>.onnx`.
/// The total size of the ONNX files stays under `maxBytes`; when a new file would exceed it, versions no
/// selector uses are evicted first, then the rest, oldest version first. The file just added is never evicted.
struct MLflowCacheIndex: Codable, Equatable {
    /// The MLflow base URL this cache belongs to (a cache for another server is ignored).
    var location: String
    /// When the state was last read from MLflow, milliseconds since the Unix epoch.
    var syncedUnixMs: Int64
    /// Registry state as of the last sync.
    var models: [ModelMetadata]
    var artifacts: [MLflowCacheEntry]

    enum CodingKeys: String, CodingKey {
        case location, models, artifacts
        case syncedUnixMs = "synced_unix_ms"
    }
}

/// One cached ONNX file.
struct MLflowCacheEntry: Codable, Equatable {
    var model: String
    var version: Int64
    /// The version's MLflow `source`; a different source (model deleted and re-created) invalidates the entry.
    var source: String
    var sha256: String
    var bytes: Int
    /// Relative to the cache directory.
    var file: String
    var cachedUnixMs: Int64

    enum CodingKeys: String, CodingKey {
        case model, version, source, sha256, bytes, file
        case cachedUnixMs = "cached_unix_ms"
    }
}

enum MLflowCache {
    /// The entries to delete so that the total stays within `maxBytes`, in eviction order.
    ///
    /// Entries `selected` names (versions a stage or alias serves) go last; within each group the lowest
    /// version (then the earliest cached) goes first. `keep` (the file just added) is never evicted.
    static func evictions(
        _ entries: [MLflowCacheEntry], maxBytes: Int, selected: Set<String>, keep: String?
    ) -> [MLflowCacheEntry] {
        var total = entries.reduce(0) { $0 + $1.bytes }
        guard total > maxBytes else { return [] }
        let candidates = entries.filter { key($0.model, $0.version) != keep }.sorted { a, b in
            let aSelected = selected.contains(key(a.model, a.version))
            let bSelected = selected.contains(key(b.model, b.version))
            if aSelected != bSelected { return !aSelected }
            if a.version != b.version { return a.version < b.version }
            if a.cachedUnixMs != b.cachedUnixMs { return a.cachedUnixMs < b.cachedUnixMs }
            return a.model < b.model
        }
        var evicted: [MLflowCacheEntry] = []
        for entry in candidates where total > maxBytes {
            evicted.append(entry)
            total -= entry.bytes
        }
        return evicted
    }

    /// `model/version`, the key of a cached version.
    static func key(_ model: String, _ version: Int64) -> String { "\(model)/\(version)" }

    /// Reads `<dir>/index.json`; nil when there is none (a fresh cache). An index that cannot be read or decoded
    /// is an error (the caller logs it and starts with an empty cache).
    static func load(directory: String) throws(RegistryError) -> MLflowCacheIndex? {
        let path = "\(directory)/index.json"
        let bytes: [UInt8]
        do { bytes = try AtomicFile.read(path) } catch {
            if error.notFound { return nil }
            throw RegistryError(error)
        }
        do { return try JSONDecoder().decode(MLflowCacheIndex.self, from: Data(bytes)) } catch {
            throw RegistryError(.io, "\(path) is not a valid cache index: \(error)")
        }
    }

    /// Writes `<dir>/index.json` atomically.
    static func save(_ index: MLflowCacheIndex, directory: String) throws(RegistryError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(index) } catch {
            throw RegistryError(.io, "cannot encode the MLflow cache index: \(error)")
        }
        do {
            try AtomicFile.makeDirectory(directory)
            try AtomicFile.write(Array(data), to: "\(directory)/index.json")
        } catch { throw RegistryError(error) }
    }
}
