/// Validates a START request and builds the initial state of the rollout.
struct RolloutBuilder {
    let model: String
    let registry: any RolloutRegistry

    func build(_ spec: RolloutSpec, id: String, now: Int64) throws(RolloutError) -> RolloutData {
        var variants: [VariantDefinition] = []
        var steps: [CanaryStep] = []
        var candidateIndex: Int?
        switch spec.strategy {
        case .canary:
            guard spec.arms.isEmpty else {
                throw .invalid("arms are for A/B tests; a canary takes a baseline and a candidate")
            }
            guard !spec.candidate.isEmpty else { throw .invalid("a canary needs a candidate version") }
            let baseline: Int64
            if spec.baseline.isEmpty {
                guard let production = registry.productionVersion(model: model) else {
                    throw .invalid("model \(model) has no Production version; name the baseline version")
                }
                baseline = production
            } else {
                baseline = try resolve(spec.baseline, role: "baseline")
            }
            let candidate = try resolve(spec.candidate, role: "candidate")
            guard candidate != baseline else {
                throw .invalid("candidate version \(candidate) is the baseline version; pick a different candidate")
            }
            steps = spec.steps.isEmpty ? CanaryStep.defaultSteps : spec.steps
            try validate(steps: steps)
            try validate(guardrails: spec.guardrails)
            variants = [
                VariantDefinition(name: "baseline", version: baseline, weightBP: 0, isShadow: false),
                VariantDefinition(name: "candidate", version: candidate, weightBP: 0, isShadow: false),
            ]
            candidateIndex = 1
        case .abTest:
            guard spec.steps.isEmpty else { throw .invalid("steps are for canaries; an A/B test takes arms") }
            guard spec.arms.count >= 2 else {
                throw .invalid("an A/B test needs at least two arms, got \(spec.arms.count)")
            }
            variants = try arms(spec.arms)
            guard spec.minDetectableEffect.isFinite, spec.minDetectableEffect >= 0 else {
                throw .invalid("min_detectable_effect \(spec.minDetectableEffect) must be a finite number ≥ 0")
            }
            guard spec.significance.isFinite, spec.significance >= 0, spec.significance <= 0.5 else {
                throw .invalid("significance \(spec.significance) is out of range (0, 0.5] (0 means 0.05)")
            }
        }
        var shadowIndex: Int?
        if !spec.shadow.isEmpty {
            let version = try resolve(spec.shadow, role: "shadow")
            if let clash = variants.first(where: { $0.version == version }) {
                throw .invalid("shadow version \(version) is already the \(clash.name) variant")
            }
            shadowIndex = variants.count
            variants.append(VariantDefinition(name: "shadow", version: version, weightBP: 0, isShadow: true))
        }
        var data = RolloutData(
            id: id, model: model, strategy: spec.strategy, state: .running, auto: spec.auto, variants: variants,
            baselineIndex: 0, candidateIndex: candidateIndex, shadowIndex: shadowIndex, steps: steps, stepIndex: 0,
            startedUnixMs: now, stepStartedUnixMs: now, guardrails: spec.guardrails, metric: spec.metric,
            minDetectableEffect: spec.minDetectableEffect,
            significance: spec.significance == 0 ? 0.05 : spec.significance, lastDecision: "",
            history: [], stepStats: Array(repeating: VariantAccumulator(), count: variants.count),
            overallStats: Array(repeating: VariantAccumulator(), count: variants.count), routingActive: true,
            routeAllTo: nil, routingGeneration: 0, recordsSinceEvaluation: 0)
        data.state = .none
        let description: String
        if spec.strategy == .canary {
            data.applyStepWeights()
            description =
                "started canary of version \(variants[1].version) against \(variants[0].version) at "
                + "\(CanaryJudge.fixed(steps[0].percent, 1))%"
        } else {
            description =
                "started A/B test of "
                + variants.filter { !$0.isShadow }.map { "\($0.name)=v\($0.version)" }.joined(separator: ", ")
        }
        data.transition(to: .running, reason: description, at: now)
        return data
    }

    /// Resolves a selector; registry failures become precise `INVALID_ARGUMENT`/`NOT_FOUND` errors.
    private func resolve(_ selector: String, role: String) throws(RolloutError) -> Int64 {
        do {
            return try registry.resolve(model: model, selector: selector)
        } catch let error as RolloutError {
            throw RolloutError(error.code, "\(role) \"\(selector)\": \(error.message)")
        } catch {
            throw .invalid("unknown \(role) version \"\(selector)\" of model \(model): \(error)")
        }
    }

    private func validate(steps: [CanaryStep]) throws(RolloutError) {
        var previous = 0.0
        for (i, step) in steps.enumerated() {
            guard step.percent.isFinite, step.percent > 0, step.percent <= 100 else {
                throw .invalid("step \(i + 1) percent \(step.percent) is out of range (0, 100]")
            }
            guard basisPoints(percent: step.percent) > basisPoints(percent: previous) else {
                throw .invalid(
                    "step \(i + 1) percent \(step.percent) is not above the previous step's \(previous); "
                        + "steps must grow (by at least 0.01)")
            }
            previous = step.percent
        }
    }

    private func validate(guardrails g: Guardrails) throws(RolloutError) {
        for (name, value) in [("max_error_rate", g.maxErrorRate), ("max_error_rate_increase", g.maxErrorRateIncrease)]
        where !(value.isFinite && value >= 0 && value <= 1) {
            throw .invalid("guardrails.\(name) \(value) is out of range [0, 1] (0 means no limit)")
        }
        for (name, value) in [("max_p99_ms", g.maxP99Ms), ("max_p99_ratio", g.maxP99Ratio)]
        where !(value.isFinite && value >= 0) {
            throw .invalid("guardrails.\(name) \(value) must be a finite number ≥ 0 (0 means no limit)")
        }
    }

    private func arms(_ arms: [ABArm]) throws(RolloutError) -> [VariantDefinition] {
        var result: [VariantDefinition] = []
        var sum = 0.0
        for (i, arm) in arms.enumerated() {
            let name = arm.name.isEmpty ? "arm\(i)" : arm.name
            guard name != "shadow" else { throw .invalid("arm \(i + 1) may not be named \"shadow\"") }
            guard !result.contains(where: { $0.name == name }) else {
                throw .invalid("two arms are named \"\(name)\"; arm names must be unique")
            }
            guard arm.weight.isFinite, arm.weight >= 0, arm.weight <= 100 else {
                throw .invalid("arm \(name) weight \(arm.weight) is out of range [0, 100]")
            }
            let version = try resolve(arm.version, role: "arm \(name)")
            if let clash = result.first(where: { $0.version == version }) {
                throw .invalid("arms \(clash.name) and \(name) both resolve to version \(version)")
            }
            sum += arm.weight
            result.append(VariantDefinition(name: name, version: version, weightBP: 0, isShadow: false))
        }
        let bps = try Self.weightsInBasisPoints(arms.map(\.weight), sum: sum)
        for i in result.indices { result[i].weightBP = bps[i] }
        return result
    }

    /// Converts percent weights summing to 100 (±1e-6) to basis points summing to exactly 10000.
    static func weightsInBasisPoints(_ weights: [Double], sum: Double) throws(RolloutError) -> [Int] {
        guard abs(sum - 100) <= 1e-6 else {
            throw .invalid("weights sum to \(CanaryJudge.fixed(sum, 4)), not 100")
        }
        var bps = weights.map { basisPoints(percent: $0) }
        let drift = 10_000 - bps.reduce(0, +)
        if drift != 0, let largest = bps.indices.max(by: { bps[$0] < bps[$1] }) { bps[largest] += drift }
        return bps
    }
}
