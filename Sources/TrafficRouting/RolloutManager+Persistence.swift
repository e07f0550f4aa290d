import DurableFiles
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

extension RolloutManager {
    /// What decides whether a save is needed: structural changes save at once, statistics about once a second.
    struct SaveMark: Sendable, Equatable {
        var structure: [Int64]
        var records: UInt64
        var unixMs: Int64
    }

    /// `<directory>/<model>/rollout.json`.
    func path(of model: String) -> String? {
        directory.map { ($0.hasSuffix("/") ? $0 : $0 + "/") + model + "/rollout.json" }
    }

    /// Saves `rollout` now if anything structural changed since the last save, or if only statistics changed and
    /// the last save is older than ``statisticsSaveIntervalMs`` (or `force`). Call with `control` held.
    func save(_ rollout: Rollout, force: Bool = false) throws(RolloutError) {
        guard let path = path(of: rollout.model) else { return }
        let data = rollout.data.withLock { $0 }
        let now = clock.nowUnixMs()
        let structure: [Int64] = [
            Int64(data.history.count), Int64(bitPattern: data.routingGeneration), data.routingActive ? 1 : 0,
            Int64(data.stepIndex), Int64(data.lastDecision.hashValue),
        ]
        let records = data.overallStats.reduce(0) { $0 &+ $1.requests &+ $1.shadowCompared }
        let previous = lastSaved.withLock { $0[rollout.id] }
        if !force, let previous {
            if previous.structure == structure {
                if previous.records == records { return }
                if now - previous.unixMs < Self.statisticsSaveIntervalMs { return }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes: Data
        do {
            bytes = try encoder.encode(data)
        } catch {
            throw RolloutError(.internalError, "cannot encode the rollout of \(rollout.model): \(error)")
        }
        do {
            try AtomicFile.makeDirectory(AtomicFile.parentDirectory(of: path))
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw RolloutError(.internalError, error.description)
        }
        let mark = SaveMark(structure: structure, records: records, unixMs: now)
        lastSaved.withLock { $0[rollout.id] = mark }
    }

    /// Loads every `<directory>/<model>/rollout.json`, re-creating the routing of active rollouts with the same
    /// rollout ids (hence the same key assignments). Returns one error per file that could not be used; those
    /// models start without a rollout.
    @discardableResult
    public func restore() -> [RolloutError] {
        guard let directory else { return [] }
        guard let names = AtomicFile.entries(directory)?.sorted() else {
            return [RolloutError(.internalError, "cannot list \(directory)")]
        }
        var problems: [RolloutError] = []
        for name in names {
            guard let path = path(of: name), AtomicFile.exists(path) else { continue }
            do {
                let data = try Self.load(path: path, model: name)
                let rollout = Rollout(data: data)
                install(ModelEntry(rollout: rollout, table: nil, generation: 0), for: name)
                republish(rollout)
            } catch {
                problems.append(error)
            }
        }
        return problems
    }

    /// Reads and checks one `rollout.json`.
    static func load(path: String, model: String) throws(RolloutError) -> RolloutData {
        var data: RolloutData
        do {
            let bytes = try AtomicFile.read(path)
            data = try JSONDecoder().decode(RolloutData.self, from: Data(bytes))
        } catch {
            throw RolloutError(.internalError, "cannot read \(path): \(error)")
        }
        let n = data.variants.count
        func bad(_ what: String) -> RolloutError { RolloutError(.internalError, "\(path) is inconsistent: \(what)") }
        guard data.formatVersion == 1 else { throw bad("format version \(data.formatVersion), expected 1") }
        guard data.model == model else { throw bad("it names model \(data.model), not \(model)") }
        guard n > 0, data.stepStats.count == n, data.overallStats.count == n else {
            throw bad("\(n) variants but \(data.stepStats.count)/\(data.overallStats.count) statistics")
        }
        func inRange(_ index: Int?) -> Bool { index.map { $0 >= 0 && $0 < n } ?? true }
        guard inRange(data.baselineIndex), inRange(data.candidateIndex), inRange(data.shadowIndex),
            inRange(data.routeAllTo), data.strategy == .abTest || data.candidateIndex != nil,
            data.shadowIndex.map({ data.variants[$0].isShadow }) ?? true,
            !data.variants[data.baselineIndex].isShadow
        else { throw bad("a variant index is out of range") }
        guard data.strategy == .abTest || data.stepIndex < data.steps.count else {
            throw bad("step index \(data.stepIndex) with \(data.steps.count) steps")
        }
        guard data.variants.allSatisfy({ $0.weightBP >= 0 && $0.weightBP <= 10_000 }),
            data.variants.reduce(0, { $0 + $1.weightBP }) == 10_000
        else { throw bad("weights are not between 0 and 100% summing to 100%") }
        guard data.stepIndex >= 0, data.steps.allSatisfy({ $0.percent.isFinite && $0.percent > 0 && $0.percent <= 100 })
        else { throw bad("a step is out of range") }
        guard Set(data.variants.map(\.name)).count == n else { throw bad("two variants have the same name") }
        let plausible: ClosedRange<Int64> = 0...4_102_444_800_000  // up to the year 2100, in ms
        guard plausible.contains(data.startedUnixMs), plausible.contains(data.stepStartedUnixMs) else {
            throw bad("a start time is not a plausible Unix time in milliseconds")
        }
        data.recordsSinceEvaluation = 0
        return data
    }

    // MARK: Background work

    /// Finishes what an ended rollout still owes: the registry promotion of a promoted candidate, and turning
    /// routing off once `Production` is the version all traffic goes to. Call with `control` held.
    func settle(_ rollout: Rollout) {
        let snapshot = rollout.data.withLock { $0 }
        guard snapshot.routingActive, !snapshot.state.isActive, let target = snapshot.routeAllTo else { return }
        let model = snapshot.model
        let version = snapshot.variants[target].version
        if snapshot.state == .promoted, registry.productionVersion(model: model) != version {
            let baseline = snapshot.variants[snapshot.baselineIndex].version
            do {
                try registry.promote(model: model, candidate: version, archiving: baseline == version ? nil : baseline)
            } catch {
                let now = clock.nowUnixMs()
                rollout.data.withLock { d in
                    d.transition(
                        to: .paused,
                        reason: "promotion of version \(version) to Production failed (\(error)); "
                            + "paused with the traffic split restored", at: now)
                    d.routeAllTo = nil
                    d.routingGeneration &+= 1
                }
                republish(rollout)
                return
            }
        }
        guard registry.productionVersion(model: model) == version else { return }
        rollout.data.withLock { d in
            d.routingActive = false
            d.routingGeneration &+= 1
        }
        republish(rollout)
    }

    /// Judges time-based decisions, finishes ended rollouts, and saves statistics that changed. Call a few times a
    /// second from a background thread (``runTicker(intervalMs:)`` does).
    public func tick() {
        for rollout in allRollouts() {
            if let change = rollout.evaluate(clock: clock) {
                publish(change.table, generation: change.generation, of: rollout)
            }
            control.withLock { _ in
                settle(rollout)
                try? save(rollout)
            }
        }
    }

    /// Calls ``tick()`` every `intervalMs` until the task is cancelled.
    public func runTicker(intervalMs: Int = 250) async {
        while !Task.isCancelled {
            tick()
            try? await Task.sleep(nanoseconds: UInt64(max(intervalMs, 10)) * 1_000_000)
        }
    }
}
