import Synchronization

extension RolloutManager {
    /// Carries out one `Rollout` command and returns the rollout's status afterwards.
    ///
    /// Errors: `.invalidArgument` for bad parameters, `.failedPrecondition` for commands that do not fit the state
    /// (a second START names the running rollout), `.internalError` when the registry or the save failed.
    public func execute(model: String, _ command: RolloutCommand) throws(RolloutError) -> RolloutStatus {
        try Self.validate(modelName: model)
        return try control.withLock { _ throws(RolloutError) -> RolloutStatus in
            // A shared rollout: the command applies to the latest generation; when another replica writes in
            // between (the write's generation check fails), it re-reads and applies again, twice at most.
            var attempt = 0
            while true {
                if isShared { follow(model: model) }
                do throws(RolloutError) {
                    return try executeLocked(model: model, command)
                } catch {
                    guard error.code == .aborted, attempt < 2 else { throw error }
                    attempt += 1
                }
            }
        }
    }

    private func executeLocked(model: String, _ command: RolloutCommand) throws(RolloutError) -> RolloutStatus {
        let now = clock.nowUnixMs()
        switch command {
        case .get:
            return statusLocked(model: model)
        case .start(let spec):
            try start(model: model, spec: spec, now: now)
        case .pause:
            try mutateActive(model: model, requiring: .running) { d in
                d.transition(to: .paused, reason: "paused by request", at: now)
            }
        case .resume:
            try mutateActive(model: model, requiring: .paused) { d in
                d.transition(to: .running, reason: "resumed by request", at: now)
            }
        case .advance:
            try mutateActive(model: model, requiring: nil) { d throws(RolloutError) in
                guard d.strategy == .canary else {
                    throw .precondition("ADVANCE is for canaries; this is an A/B test")
                }
                guard d.stepIndex + 1 < d.steps.count else {
                    throw .precondition(
                        "rollout \(d.id) is at its last step (\(d.steps.count) of \(d.steps.count)); PROMOTE it")
                }
                d.stepIndex += 1
                d.applyStepWeights()
                d.resetStepStatistics(at: now)
                d.transition(
                    to: d.state,
                    reason: "advanced to step \(d.stepIndex + 1) "
                        + "(\(CanaryJudge.fixed(d.steps[d.stepIndex].percent, 1))%) by request", at: now)
            }
            countVerdict(.advance, model: model)
        case .setWeights(let weights):
            try mutateActive(model: model, requiring: nil) { d throws(RolloutError) in
                try Self.setWeights(weights, on: &d)
                d.transition(
                    to: d.state,
                    reason: "weights set to "
                        + d.variants.filter { !$0.isShadow }.map {
                            "\($0.name)=\(CanaryJudge.fixed(Double($0.weightBP) / 100, 2))%"
                        }.joined(separator: ", "), at: now)
            }
        case .rollback(let archive):
            try rollback(model: model, archiveCandidate: archive, now: now)
        case .promote(let arm):
            try promote(model: model, arm: arm, now: now)
        }
        return statusLocked(model: model)
    }

    /// The status of `model`'s rollout (judging `auto` decisions first).
    public func status(model: String) -> RolloutStatus {
        control.withLock { _ in statusLocked(model: model) }
    }

    /// The status; a shared rollout is read from the latest `rollout.json` with every replica's statistics
    /// summed (its automatic decisions are the lease holder's, on its ticker).
    func statusLocked(model: String) -> RolloutStatus {
        var none = RolloutStatus.none(model: model)
        none.replicaID = replicaID
        if isShared {
            follow(model: model)
            guard let rollout = rollout(of: model) else { return none }
            return fleetStatus(rollout)
        }
        guard let rollout = rollout(of: model) else { return none }
        if let change = rollout.evaluate(clock: clock) {
            publish(change.table, generation: change.generation, of: rollout)
            countVerdict(change.verdict, model: model)
        }
        settleReporting(rollout)
        return rollout.data.withLock { $0.status() }
    }

    /// Model names become directory names: no separators, no `.`/`..`, no NUL.
    static func validate(modelName: String) throws(RolloutError) {
        guard !modelName.isEmpty else { throw .invalid("model name is empty") }
        guard modelName != ".", modelName != "..", !modelName.contains("/"), !modelName.contains("\0") else {
            throw .invalid("model name \"\(modelName)\" may not contain \"/\" or be \".\" or \"..\"")
        }
    }

    private func start(model: String, spec: RolloutSpec, now: Int64) throws(RolloutError) {
        if let existing = rollout(of: model) {
            let (active, description) = existing.data.withLock {
                (
                    $0.state.isActive,
                    "\($0.strategy == .canary ? "canary" : "A/B test") \($0.id) (\($0.state.protoName))"
                )
            }
            if active {
                throw .precondition(
                    "model \(model) already has a rollout in progress: \(description); ROLLBACK or PROMOTE it first")
            }
        }
        let id = makeRolloutID()
        let data = try RolloutBuilder(model: model, registry: registry).build(spec, id: id, now: now)
        // Load before switch: the versions it routes to are loaded before the table is published.
        registry.keepLoaded(model: model, versions: Set(data.variants.map(\.version)))
        let rollout = Rollout(data: data, judgesOnRecord: !isShared)
        let previous = install(ModelEntry(rollout: rollout, table: nil, generation: 0), for: model)
        do {
            try commit(rollout) { _ in }
        } catch {
            install(previous, for: model)
            if error.code == .aborted { throw error }
            throw RolloutError(error.code, "rollout not started: \(error.message)")
        }
    }

    /// Applies `body` to the model's active rollout (in `requiring` state, if given), saves and republishes.
    private func mutateActive(
        model: String, requiring required: RolloutState?, _ body: (inout RolloutData) throws(RolloutError) -> Void
    ) throws(RolloutError) {
        let rollout = try activeRollout(model: model)
        try commit(rollout) { d throws(RolloutError) in
            if let required, d.state != required {
                throw .precondition("rollout \(d.id) is \(d.state.protoName), not \(required.protoName)")
            }
            try body(&d)
        }
    }

    func activeRollout(model: String) throws(RolloutError) -> Rollout {
        guard let rollout = rollout(of: model) else {
            throw RolloutError(.notFound, "model \(model) has no rollout; START one first")
        }
        let (active, id, state) = rollout.data.withLock { ($0.state.isActive, $0.id, $0.state) }
        guard active else {
            throw .precondition("rollout \(id) of model \(model) has ended (\(state.protoName)); START a new one")
        }
        return rollout
    }

    /// SET_WEIGHTS: every non-shadow variant by name, summing to 100.
    static func setWeights(_ weights: [String: Double], on d: inout RolloutData) throws(RolloutError) {
        let names = d.variants.filter { !$0.isShadow }.map(\.name)
        for name in weights.keys.sorted() where !names.contains(name) {
            throw .invalid(
                "unknown variant \"\(name)\"; the variants that take traffic are \(names.joined(separator: ", "))")
        }
        var values: [Double] = []
        for name in names {
            guard let w = weights[name] else {
                throw .invalid(
                    "missing a weight for variant \"\(name)\"; give one for each of \(names.joined(separator: ", "))")
            }
            guard w.isFinite, w >= 0, w <= 100 else {
                throw .invalid("weight \(w) of \(name) is out of range [0, 100]")
            }
            values.append(w)
        }
        let bps = try RolloutBuilder.weightsInBasisPoints(values, sum: values.reduce(0, +))
        var k = 0
        for i in d.variants.indices where !d.variants[i].isShadow {
            d.variants[i].weightBP = bps[k]
            k += 1
        }
        d.routingGeneration &+= 1
    }

    /// 128 random bits as 32 hex digits.
    static func newRolloutID() -> String {
        var generator = SystemRandomNumberGenerator()
        let a = generator.next() as UInt64
        let b = generator.next() as UInt64
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
        return hex(a) + hex(b)
    }
}
