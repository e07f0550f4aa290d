#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A saved live window of one version, which a restarted server loads back: the counts of its segments with
/// their wall-clock spans. Only a window laid out for the same profile and counters (`layout`) is restored.
public struct WindowSnapshot: Codable, Sendable, Equatable {
    /// The layout version of the file.
    public static let currentFormat = 1

    public var format: Int
    public var model: String
    public var version: Int64
    /// Identifies the counter layout: the profile's digest and the counter width (set by the server).
    public var layout: String
    /// When the snapshot was taken, milliseconds since the Unix epoch.
    public var takenUnixMs: Int64
    /// Segments holding rows, oldest first.
    public var segments: [LiveWindow.SegmentSnapshot]

    public init(
        model: String, version: Int64, layout: String, takenUnixMs: Int64, segments: [LiveWindow.SegmentSnapshot]
    ) {
        format = Self.currentFormat
        self.model = model
        self.version = version
        self.layout = layout
        self.takenUnixMs = takenUnixMs
        self.segments = segments
    }

    enum CodingKeys: String, CodingKey {
        case format, model, version, layout, segments
        case takenUnixMs = "taken_unix_ms"
    }

    /// Compact JSON (the file is rewritten on a timer).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    /// Decodes a snapshot file; the error says why it cannot be used.
    public static func decode(_ bytes: [UInt8]) throws(ProfileError) -> WindowSnapshot {
        let snapshot: WindowSnapshot
        do { snapshot = try JSONDecoder().decode(WindowSnapshot.self, from: Data(bytes)) } catch {
            throw ProfileError("not a valid window snapshot: \(error)")
        }
        guard snapshot.format == currentFormat else {
            throw ProfileError("window snapshot has format \(snapshot.format); this server reads format \(currentFormat)")
        }
        return snapshot
    }
}

extension ModelMonitor {
    /// The window as a snapshot (`layout` identifies the counter layout). Timer thread or shutdown only.
    public func snapshot(layout: String, now: UInt64, wallMillis: Int64) -> WindowSnapshot {
        WindowSnapshot(
            model: model, version: version, layout: layout, takenUnixMs: wallMillis,
            segments: window.snapshot(now: now, wallMillis: wallMillis))
    }

    /// Loads a snapshot into the fresh window of a loading version, dropping segments older than the window's
    /// time limit. Returns what happened, for the log; a snapshot of another model, version or layout is ignored.
    public func restore(_ snapshot: WindowSnapshot, layout: String, now: UInt64, wallMillis: Int64) -> String {
        guard snapshot.model == model, snapshot.version == version, snapshot.layout == layout else {
            return "the saved window was taken with another profile or counter layout; starting with an empty window"
        }
        let maxAge = Int64(settings.windowSeconds * 1000)
        let rows = window.restore(snapshot.segments, now: now, wallMillis: wallMillis, maxAgeMillis: maxAge)
        let dropped = snapshot.segments.count - snapshot.segments.filter { wallMillis - $0.endUnixMs <= maxAge }.count
        return "restored the saved window: \(rows) requests"
            + (dropped > 0 ? " (\(dropped) segments older than \(Int(settings.windowSeconds)) s left out)" : "")
    }
}
