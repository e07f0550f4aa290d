import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// What the rollout controller needs from the model registry (`RegistryRolloutBridge` implements it over `ModelRegistry`).
///
/// Calls happen on command paths (START, PROMOTE, ROLLBACK) and, in `auto` mode, when a decision is carried out;
/// never on the per-request path.
public protocol RolloutRegistry: Sendable {
    /// Resolves a version selector (`"7"`, `"production"`, `"@champion"`, `"models:/churn/7"`) to a version number.
    /// Throw a ``RolloutError`` (`.notFound` / `.invalidArgument`) for unknown models or versions; other errors
    /// are reported as `invalidArgument` with their description.
    func resolve(model: String, selector: String) throws -> Int64
    /// The version currently in the `Production` stage, if any.
    func productionVersion(model: String) -> Int64?
    /// Makes `candidate` the `Production` version and moves `baseline` (the previous production) to `Archived`,
    /// atomically. Called before routing stops sending traffic through the rollout.
    func promote(model: String, candidate: Int64, archiving baseline: Int64?) throws
    /// Moves `version` to the `Archived` stage (ROLLBACK with `archiveCandidate`).
    func archive(model: String, version: Int64) throws
    /// Keeps `versions` of `model` loaded (empty: releases them) and waits, bounded, until they are, so a
    /// routing table that sends traffic to them can be published at once. Called when a replica adopts a
    /// rollout another replica started.
    func keepLoaded(model: String, versions: Set<Int64>)
    /// Waits (bounded) until requests that name no version are served by `version` of `model`: called before a
    /// replica stops routing a rollout that ended on `version`, so requests never fall back to an older
    /// `Production` while this replica's registry catches up with the shared metadata.
    func awaitServingProduction(model: String, version: Int64)
}

extension RolloutRegistry {
    /// Registries that load nothing (tests) have nothing to keep loaded.
    public func keepLoaded(model: String, versions: Set<Int64>) {}
    /// Registries that serve nothing (tests) have nothing to wait for.
    public func awaitServingProduction(model: String, version: Int64) {}
}

/// Wall-clock time in milliseconds since the Unix epoch. Step durations and history timestamps use it, so
/// they survive restarts; tests substitute a clock they move by hand.
public protocol RolloutClock: Sendable {
    /// The current wall-clock time in milliseconds since the Unix epoch; may jump if the system clock is set.
    func nowUnixMs() -> Int64
}

/// The system clock.
public struct SystemRolloutClock: RolloutClock {
    public init() {}
    /// Reads `CLOCK_REALTIME`, truncated to whole milliseconds. No allocation.
    public func nowUnixMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
