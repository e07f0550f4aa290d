/// Per-model monitoring settings in `model.json` (`"monitoring": {...}`); unset fields take the server's
/// defaults (`sluice serve --monitor-*` flags).
public struct MonitoringOptions: Codable, Sendable, Equatable {
    /// Most requests in a version's live window.
    public var windowRequests: Int?
    /// Oldest request in the window, in seconds.
    public var windowSeconds: Double?
    /// PSI at or above which a feature is WARN.
    public var psiWarn: Double?
    /// PSI at or above which a feature is DRIFT.
    public var psiDrift: Double?
    /// Requests the window needs before verdicts other than OK.
    public var minRequests: Int?
    /// False turns monitoring off for this model.
    public var enabled: Bool?

    /// Settings built in code; every field defaults to nil, meaning "use the server's default".
    public init(
        windowRequests: Int? = nil, windowSeconds: Double? = nil, psiWarn: Double? = nil, psiDrift: Double? = nil,
        minRequests: Int? = nil, enabled: Bool? = nil
    ) {
        self.windowRequests = windowRequests
        self.windowSeconds = windowSeconds
        self.psiWarn = psiWarn
        self.psiDrift = psiDrift
        self.minRequests = minRequests
        self.enabled = enabled
    }

    enum CodingKeys: String, CodingKey {
        case windowRequests = "window_requests"
        case windowSeconds = "window_seconds"
        case psiWarn = "psi_warn"
        case psiDrift = "psi_drift"
        case minRequests = "min_requests"
        case enabled
    }
}

/// A source that keeps reference profiles (`profile.json`) beside its versions.
public protocol ProfileStore: Sendable {
    /// The profile bytes of a version, or nil when it has none.
    func profileBytes(model: String, version: Int64) throws(RegistryError) -> [UInt8]?
    /// Stores a version's profile, replacing any previous one atomically.
    func writeProfile(_ bytes: [UInt8], model: String, version: Int64) throws(RegistryError)
    /// What to do when a version has no profile (the note GetModelVersion and `models drift` show).
    func missingProfileHint(model: String, version: Int64) -> String
}

extension ProfileStore {
    /// The default hint: the `sluice models profile` command that builds the missing profile.
    public func missingProfileHint(model: String, version: Int64) -> String {
        "no reference profile (build one with: sluice models profile \(model) --version \(version) --data FILE)"
    }
}

extension LocalDirectorySource: ProfileStore {
    /// `<root>/<model>/<version>/profile.json`.
    public func profilePath(model: String, version: Int64) -> String { "\(root)/\(model)/\(version)/profile.json" }

    /// Reads `profile.json` for the version; nil when the file does not exist. Throws for an invalid model name
    /// or an unreadable file.
    public func profileBytes(model: String, version: Int64) throws(RegistryError) -> [UInt8]? {
        try VersionSelector.validateModelName(model)
        let path = profilePath(model: model, version: version)
        guard Self.fileExists(path) else { return nil }
        return try Self.read(path)
    }

    /// Writes `profile.json` beside `model.onnx`; throws `.notFound` when that version has no `model.onnx`, so a
    /// profile is never stored for a version that does not exist.
    public func writeProfile(_ bytes: [UInt8], model: String, version: Int64) throws(RegistryError) {
        try VersionSelector.validateModelName(model)
        guard Self.fileExists("\(root)/\(model)/\(version)/model.onnx") else {
            throw RegistryError(.notFound, "model \"\(model)\" has no version \(version) in \(root)")
        }
        try Self.write(bytes, to: profilePath(model: model, version: version))
    }

    /// Where the server writes a version's latest drift report for `sluice models drift`:
    /// `<root>/.monitoring/<model>/<version>.json` (a dot directory, which the registry ignores).
    public func monitoringStatePath(model: String, version: Int64) -> String {
        "\(root)/.monitoring/\(model)/\(version).json"
    }

    /// Writes a drift report atomically (creating `.monitoring/<model>/`).
    public func writeMonitoringState(_ bytes: [UInt8], model: String, version: Int64) throws(RegistryError) {
        try VersionSelector.validateModelName(model)
        try Self.makeDirectory("\(root)/.monitoring")
        try Self.makeDirectory("\(root)/.monitoring/\(model)")
        try Self.write(bytes, to: monitoringStatePath(model: model, version: version))
    }

    /// Where the server saves a version's live drift window for the next start:
    /// `<root>/.monitoring/<model>/<version>.window.json`.
    public func windowStatePath(model: String, version: Int64) -> String {
        "\(root)/.monitoring/\(model)/\(version).window.json"
    }

    /// Saves a window snapshot atomically (creating `.monitoring/<model>/`).
    public func writeWindowState(_ bytes: [UInt8], model: String, version: Int64) throws(RegistryError) {
        try VersionSelector.validateModelName(model)
        try Self.makeDirectory("\(root)/.monitoring")
        try Self.makeDirectory("\(root)/.monitoring/\(model)")
        try Self.write(bytes, to: windowStatePath(model: model, version: version))
    }

    /// The window snapshot saved for a version, or nil.
    public func windowState(model: String, version: Int64) throws(RegistryError) -> [UInt8]? {
        try VersionSelector.validateModelName(model)
        let path = windowStatePath(model: model, version: version)
        guard Self.fileExists(path) else { return nil }
        return try Self.read(path)
    }

    /// The drift report the server last wrote for a version, or nil.
    public func monitoringState(model: String, version: Int64) throws(RegistryError) -> [UInt8]? {
        try VersionSelector.validateModelName(model)
        let path = monitoringStatePath(model: model, version: version)
        guard Self.fileExists(path) else { return nil }
        return try Self.read(path)
    }
}
