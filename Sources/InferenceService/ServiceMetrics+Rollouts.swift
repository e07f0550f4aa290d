import Auth
import ServerMetrics
import Synchronization
public import TrafficRouting

extension ServiceMetrics {
    /// Exports the rollouts this replica routes and the verdicts it took:
    /// `sluice_rollout_state{model,strategy,state}` (1 for the current state, 0 for the others),
    /// `sluice_rollout_variant_weight_percent{model,variant,version}` (the share of routed traffic each variant
    /// gets now), `sluice_rollout_verdicts_total{model,verdict}` and `sluice_rollout_state_write_errors_total`.
    public func registerRolloutMetrics(_ rollouts: RolloutManager) {
        let states: [RolloutState] = [.running, .paused, .rolledBack, .promoted, .completed]
        registry.collector(
            "sluice_rollout_state", help: "State of each model's latest rollout on this replica (1 = current).",
            kind: .gauge
        ) {
            rollouts.routingSummary().flatMap { rollout in
                states.map { state in
                    (
                        [
                            "model": rollout.model, "strategy": rollout.strategy == .canary ? "canary" : "ab_test",
                            "state": state.rawValue.lowercased(),
                        ], rollout.state == state ? 1.0 : 0.0
                    )
                }
            }
        }
        registry.collector(
            "sluice_rollout_variant_weight_percent",
            help: "Percent of a model's routed traffic each rollout variant receives on this replica.", kind: .gauge
        ) {
            rollouts.routingSummary().flatMap { rollout in
                rollout.variants.map {
                    (["model": rollout.model, "variant": $0.name, "version": String($0.version)], $0.weightPercent)
                }
            }
        }
        registry.collector(
            "sluice_rollout_verdicts_total",
            help: "Rollout verdicts (advance, rollback, promote) carried out by this replica, automatic or by command.",
            kind: .counter
        ) {
            rollouts.verdictCounts().map { (["model": $0.model, "verdict": $0.verdict.rawValue], Double($0.count)) }
        }
        registry.collector(
            "sluice_rollout_state_write_errors_total",
            help: "Writes of shared rollout state, statistics or lease that failed.", kind: .counter
        ) { [([:], Double(rollouts.stateWriteErrors))] }
    }

    /// Exports `sluice_auth_denied_total{reason}` and `sluice_rate_limited_total`.
    func registerAuthMetrics() {
        let denials = self.denials
        registry.collector(
            "sluice_auth_denied_total",
            help: "Calls refused by authentication, authorization or rate limits, by reason.", kind: .counter
        ) {
            [
                (["reason": "unauthenticated"], Double(denials.unauthenticated.load(ordering: .relaxed))),
                (["reason": "permission_denied"], Double(denials.permissionDenied.load(ordering: .relaxed))),
                (["reason": "rate_limited"], Double(denials.rateLimited.load(ordering: .relaxed))),
                (["reason": "signature_checks"], Double(denials.signatureBudget.load(ordering: .relaxed))),
            ]
        }
        registry.collector(
            "sluice_signature_checks_refused_total",
            help: "Calls refused because their connection used up its first-sight signature checks for the second.",
            kind: .counter
        ) { [([:], Double(denials.signatureBudget.load(ordering: .relaxed)))] }
        registry.collector(
            "sluice_rate_limited_total", help: "Calls refused because the caller exceeded its rate limit.",
            kind: .counter
        ) { [([:], Double(denials.rateLimited.load(ordering: .relaxed)))] }
    }

    /// Counts a refused call by reason (not on the path of admitted calls).
    public func countDenial(_ denial: AuthDenial) {
        switch denial.code {
        case .unauthenticated: denials.unauthenticated.add(1, ordering: .relaxed)
        case .permissionDenied: denials.permissionDenied.add(1, ordering: .relaxed)
        case .rateLimited: denials.rateLimited.add(1, ordering: .relaxed)
        default: break
        }
    }
}
