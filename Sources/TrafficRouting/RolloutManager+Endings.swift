import Synchronization

extension RolloutManager {
    /// ROLLBACK: all traffic to the baseline at once (saved before the registry is touched, so after a crash the
    /// rollout stays rolled back), then (by flag) the candidates archived.
    func rollback(model: String, archiveCandidate: Bool, now: Int64) throws(RolloutError) {
        let rollout = try activeRollout(model: model)
        var toArchive: [Int64] = []
        try commit(rollout) { d in
            d.transition(to: .rolledBack, reason: "rolled back by request", at: now)
            d.routeAllTo = d.baselineIndex
            d.routingGeneration &+= 1
            toArchive = d.variants.enumerated().filter { $0.offset != d.baselineIndex && !$0.element.isShadow }
                .map(\.element.version)
        }
        countVerdict(.rollback, model: model)
        if archiveCandidate {
            var failures: [String] = []
            for version in toArchive {
                do { try registry.archive(model: model, version: version) } catch {
                    failures.append("archiving version \(version) failed: \(error)")
                }
            }
            try commit(rollout) { d in
                d.lastDecision =
                    "rolled back by request; "
                    + (failures.isEmpty
                        ? "archived version\(toArchive.count > 1 ? "s" : "") "
                            + toArchive.map(String.init).joined(separator: ", ") : failures.joined(separator: "; "))
            }
        }
        try settle(rollout)
    }

    /// PROMOTE: all traffic to the target at once, then the registry makes it Production, then routing ends.
    func promote(model: String, arm: String?, now: Int64) throws(RolloutError) {
        let rollout = try activeRollout(model: model)
        // Pick the target and send all traffic to it first, so requests never see the old Production in between.
        // Saved before the registry is touched: after a crash between the registry's promotion and the final
        // save, the restored rollout still sends all traffic to the new Production version.
        var target = 0
        var previousRouteAllTo: Int?
        try commit(rollout) { d throws(RolloutError) in
            if d.strategy == .canary {
                guard arm == nil || arm == "" || arm == "candidate" else {
                    throw .invalid("a canary promotes its candidate; do not name an arm")
                }
                target = d.candidateIndex ?? 1
            } else {
                let arms = d.variants.indices.filter { !d.variants[$0].isShadow }
                if let arm, !arm.isEmpty {
                    guard
                        let i = arms.first(where: {
                            d.variants[$0].name == arm || String(d.variants[$0].version) == arm
                        })
                    else {
                        throw .invalid(
                            "no arm \"\(arm)\"; arms are "
                                + arms.map { d.variants[$0].name }.joined(separator: ", "))
                    }
                    target = i
                } else if arms.count == 2 {
                    target = arms[1]
                } else {
                    throw .invalid(
                        "name the arm to promote; arms are " + arms.map { d.variants[$0].name }.joined(separator: ", "))
                }
            }
            previousRouteAllTo = d.routeAllTo
            d.routeAllTo = target
            d.routingGeneration &+= 1
        }
        let (version, baseline, isControl) = rollout.data.withLock {
            ($0.variants[target].version, $0.variants[$0.baselineIndex].version, target == $0.baselineIndex)
        }
        do {
            if registry.productionVersion(model: model) != version {
                try registry.promote(model: model, candidate: version, archiving: isControl ? nil : baseline)
            }
        } catch {
            let failure = "promotion of version \(version) of model \(model) failed: \(error)"
            do throws(RolloutError) {
                try commit(rollout) { d in
                    d.routeAllTo = previousRouteAllTo
                    d.routingGeneration &+= 1
                    d.lastDecision = "promotion of version \(version) failed (\(error)); traffic split unchanged"
                }
            } catch let saveError {
                throw RolloutError(
                    .internalError,
                    "\(failure); restoring the traffic split failed too (\(saveError.message)): all traffic stays "
                        + "on version \(version); PROMOTE again or ROLLBACK")
            }
            throw RolloutError(.internalError, failure)
        }
        try commit(rollout) { d in
            if isControl {
                d.transition(
                    to: .completed, reason: "completed: kept control \(d.variants[target].name) (version \(version))",
                    at: now)
            } else {
                d.transition(
                    to: .promoted,
                    reason: "promoted by request: version \(version) is Production, version \(baseline) archived",
                    at: now)
            }
        }
        if !isControl { countVerdict(.promote, model: model) }
        try settle(rollout)
    }
}
