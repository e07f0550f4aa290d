/// Where a version is in its serving lifecycle.
public enum VersionState: Sendable, Equatable {
    /// Registered but not loaded: not in Staging/Production, no alias, not in a rollout.
    case notLoaded
    case loading
    case ready
    case failed(reason: String)
    /// Was loaded, no longer needed, released.
    case retired
}
