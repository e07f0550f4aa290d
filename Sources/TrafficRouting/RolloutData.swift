/// One variant of a rollout as defined at START (weights change later).
struct VariantDefinition: Codable, Sendable, Equatable {
    var name: String
    var version: Int64
    /// Current traffic weight in basis points (0 for the shadow).
    var weightBP: Int
    var isShadow: Bool
}

/// One state change, kept in the rollout's history.
public struct RolloutTransition: Codable, Sendable, Hashable {
    /// When the change happened, in milliseconds since the Unix epoch.
    public var unixMs: Int64
    /// The state before the change.
    public var from: RolloutState
    /// The state after the change.
    public var to: RolloutState
    /// Why it changed: the operator's request or the judge's verdict, as shown in the history.
    public var reason: String
}

/// The whole state of one rollout: definition, weights, step, decisions, statistics. Guarded by the rollout's
/// lock. Its structure (everything but the statistics) is persisted as `rollout.json`, shared by every replica
/// on the registry; each replica's statistics go to a file of its own (see ``ReplicaStatsFile``).
struct RolloutData: Codable, Sendable {
    /// Bumped when the JSON layout changes incompatibly: 1 kept statistics in `rollout.json` (one replica);
    /// 2 keeps only the structure there, with a ``stateGeneration``.
    var formatVersion = RolloutData.currentFormat
    static let currentFormat = 2
    var id: String
    var model: String
    var strategy: RolloutStrategy
    var state: RolloutState
    var auto: Bool
    var variants: [VariantDefinition]
    /// Canary baseline, or the A/B control arm.
    var baselineIndex: Int
    /// Canary candidate (`nil` for A/B tests).
    var candidateIndex: Int?
    var shadowIndex: Int?
    var steps: [CanaryStep]
    var stepIndex: Int
    var startedUnixMs: Int64
    var stepStartedUnixMs: Int64
    var guardrails: Guardrails
    var metric: ABMetric
    var minDetectableEffect: Double
    var significance: Double
    var lastDecision: String
    var history: [RolloutTransition]
    /// Statistics over the current step, per variant.
    var stepStats: [VariantAccumulator]
    /// Statistics since START, per variant.
    var overallStats: [VariantAccumulator]
    /// Whether requests without a version still go through this rollout (true while active, and after it ends
    /// until the registry reflects the outcome, e.g. a pending promotion or a rollback to a non-production baseline).
    var routingActive: Bool
    /// When set, all routed traffic goes to this variant (promotion pending, or rolled back).
    var routeAllTo: Int?
    /// Bumped on every change of routing, so a newer table is never replaced by an older one.
    var routingGeneration: UInt64
    /// Records since the last automatic evaluation (not meaningful across restarts).
    var recordsSinceEvaluation: Int
    /// Bumped on every write of `rollout.json`; a write happens only if the file still holds the generation the
    /// writer last saw (compare-and-swap under the registry's lock). `nil` in format 1 files (read as 0).
    var stateGeneration: UInt64?

    /// Records a state change.
    mutating func transition(to newState: RolloutState, reason: String, at unixMs: Int64) {
        history.append(RolloutTransition(unixMs: unixMs, from: state, to: newState, reason: reason))
        state = newState
        lastDecision = reason
    }

    /// Starts a fresh step window.
    mutating func resetStepStatistics(at unixMs: Int64) {
        for i in stepStats.indices { stepStats[i] = VariantAccumulator() }
        stepStartedUnixMs = unixMs
    }

    /// Sets the canary weights to the current step's percent.
    mutating func applyStepWeights() {
        guard let candidate = candidateIndex, stepIndex < steps.count else { return }
        let candidateBP = basisPoints(percent: steps[stepIndex].percent)
        variants[candidate].weightBP = candidateBP
        variants[baselineIndex].weightBP = 10_000 - candidateBP
        routingGeneration &+= 1
    }
}

extension RolloutData {
    /// The structure as written to `rollout.json`: the statistics left out (they live in per-replica files).
    var structureOnly: RolloutData {
        var copy = self
        copy.formatVersion = Self.currentFormat
        copy.stepStats = []
        copy.overallStats = []
        copy.recordsSinceEvaluation = 0
        return copy
    }

    /// Whether `other` is in the same step window (statistics of one may be added to the other's).
    func sameStepWindow(_ other: RolloutData) -> Bool {
        stepIndex == other.stepIndex && stepStartedUnixMs == other.stepStartedUnixMs
    }

    /// Takes `other`'s structure (weights, state, step, history, generation) and keeps this replica's
    /// statistics; the step statistics restart when `other` is in another step window.
    mutating func adoptStructure(of other: RolloutData) {
        let stepStats = self.stepStats
        let overallStats = self.overallStats
        let sameWindow = sameStepWindow(other)
        let records = recordsSinceEvaluation
        self = other
        let n = variants.count
        self.overallStats = overallStats.count == n ? overallStats : Array(repeating: VariantAccumulator(), count: n)
        self.stepStats =
            sameWindow && stepStats.count == n ? stepStats : Array(repeating: VariantAccumulator(), count: n)
        self.recordsSinceEvaluation = records
    }
}

/// Percent → basis points, rounded to the nearest.
func basisPoints(percent: Double) -> Int {
    Int((percent * 100).rounded())
}
