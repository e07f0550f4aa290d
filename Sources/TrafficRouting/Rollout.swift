import Synchronization

/// A decision that changes a rollout's course, counted in `sluice_rollout_verdicts_total`.
public enum Verdict: String, Sendable, Hashable, CaseIterable {
    case advance, rollback, promote
}

/// One rollout of one model: its state under a lock, and the routing table built from it.
///
/// The per-request path takes the lock only to add an outcome to the statistics (and, every
/// ``evaluationInterval`` records in `auto` mode, to judge the guardrails).
final class Rollout: Sendable {
    let id: String
    let model: String
    /// FNV-1a state after the rollout id, the seed of key assignment.
    let prefix: UInt64
    let data: Mutex<RolloutData>
    /// Automatic decisions are judged once per this many records (and on every status read and tick).
    static let evaluationInterval = 16
    /// Whether the request path judges automatic decisions from this replica's counts (a rollout kept in
    /// memory). Rollouts shared through a registry directory are judged once for the fleet, by the lease
    /// holder's ticker, from every replica's counts summed.
    let judgesOnRecord: Bool

    /// Wraps `data`, computing the key-hash prefix from its id. `judgesOnRecord` is false for rollouts shared
    /// through a registry directory, which the lease holder judges.
    init(data: RolloutData, judgesOnRecord: Bool = true) {
        self.judgesOnRecord = judgesOnRecord
        self.id = data.id
        self.model = data.model
        self.prefix = RoutingKeyHash.prefix(rolloutID: data.id)
        self.data = Mutex(data)
    }

    /// What a decision taken on the request path asks the manager to do.
    struct Change: Sendable {
        /// The new routing table (`nil`: requests no longer go through the rollout), tagged with its generation.
        var table: RoutingTable?
        var generation: UInt64
        /// Registry work to do off the request path.
        var pendingPromotion: Bool
        /// The verdict carried out.
        var verdict: Verdict
    }

    /// Adds an outcome to variant `index`'s statistics; in `auto` mode, judges the guardrails now and then.
    func record(variantIndex index: Int, outcome: Outcome, clock: any RolloutClock) -> Change? {
        data.withLock { data -> Change? in
            guard data.state.isActive, index >= 0, index < data.variants.count else { return nil }
            data.stepStats[index].record(outcome)
            data.overallStats[index].record(outcome)
            guard judgesOnRecord, data.auto, data.state == .running, data.strategy == .canary else { return nil }
            data.recordsSinceEvaluation &+= 1
            guard data.recordsSinceEvaluation >= Self.evaluationInterval else { return nil }
            data.recordsSinceEvaluation = 0
            return applyDecision(&data, now: clock.nowUnixMs())
        }
    }

    /// Adds the shadow's outcome to its statistics; the comparison counts toward the agreement rate only when the
    /// answer returned came from the baseline (`primary == baselineIndex`), so the rate is agreement with the
    /// baseline.
    func recordShadow(variantIndex index: Int, primary: Int, outcome: Outcome, agreed: Bool) {
        data.withLock { data in
            guard data.state.isActive, index >= 0, index < data.variants.count else { return }
            data.stepStats[index].record(outcome)
            data.overallStats[index].record(outcome)
            guard primary == data.baselineIndex else { return }
            data.stepStats[index].recordShadow(agreed: agreed)
            data.overallStats[index].recordShadow(agreed: agreed)
        }
    }

    /// Judges the automatic decision now (status reads and ticks); the same as the request path does.
    func evaluate(clock: any RolloutClock) -> Change? {
        data.withLock { data -> Change? in
            guard data.auto, data.state == .running, data.strategy == .canary else { return nil }
            data.recordsSinceEvaluation = 0
            return applyDecision(&data, now: clock.nowUnixMs())
        }
    }

    /// Carries out the guardrail/step decision on `data`, if any, and says how routing changes.
    private func applyDecision(_ data: inout RolloutData, now: Int64) -> Change? {
        guard let decision = CanaryJudge.decide(data, now: now) else { return nil }
        return apply(decision, to: &data, now: now)
    }

    /// Carries out `decision` on `data` (judged here or, for a fleet, from every replica's counts).
    func apply(_ decision: CanaryJudge.Decision, to data: inout RolloutData, now: Int64) -> Change {
        switch decision {
        case .rollback(let reason):
            data.transition(to: .rolledBack, reason: reason, at: now)
            data.routeAllTo = data.baselineIndex
            data.routingGeneration &+= 1
            return Change(
                table: makeTable(data), generation: data.routingGeneration, pendingPromotion: false, verdict: .rollback)
        case .advance(let reason):
            data.stepIndex += 1
            data.applyStepWeights()
            data.resetStepStatistics(at: now)
            data.transition(to: .running, reason: reason, at: now)
            return Change(
                table: makeTable(data), generation: data.routingGeneration, pendingPromotion: false, verdict: .advance)
        case .promote(let reason):
            // Routing keeps sending everything to the candidate until the registry has made it Production.
            data.transition(to: .promoted, reason: reason, at: now)
            data.routeAllTo = data.candidateIndex
            data.routingGeneration &+= 1
            return Change(
                table: makeTable(data), generation: data.routingGeneration, pendingPromotion: true, verdict: .promote)
        }
    }

    /// The routing table for `data`'s current weights and state (`nil` when routing is off).
    func makeTable(_ data: RolloutData) -> RoutingTable? {
        guard data.routingActive else { return nil }
        func target(_ i: Int) -> RoutingTable.Target {
            RoutingTable.Target(index: i, name: data.variants[i].name, version: data.variants[i].version)
        }
        var ranges: [(weightBP: Int, target: RoutingTable.Target)] = []
        if let all = data.routeAllTo, all < data.variants.count {
            ranges = [(10_000, target(all))]
        } else if data.strategy == .canary, let candidate = data.candidateIndex {
            // Candidate first: a key is on the candidate iff its basis point < candidate weight, so growing the
            // candidate's share only ever moves keys from baseline to candidate.
            ranges = [
                (data.variants[candidate].weightBP, target(candidate)),
                (data.variants[data.baselineIndex].weightBP, target(data.baselineIndex)),
            ]
        } else {
            for (i, v) in data.variants.enumerated() where !v.isShadow { ranges.append((v.weightBP, target(i))) }
        }
        let shadow = data.state.isActive ? data.shadowIndex.map(target) : nil
        return RoutingTable(
            rollout: self, prefix: prefix, generation: data.routingGeneration, ranges: ranges,
            shadow: shadow)
    }
}
