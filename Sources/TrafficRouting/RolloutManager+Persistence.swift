import DurableFiles
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

extension RolloutManager {
    /// What this replica's statistics file last held: written again when the counts or the step window change,
    /// at most every ``statisticsSaveIntervalMs``.
    struct SaveMark: Sendable, Equatable {
        var records: UInt64
        var stepIndex: Int
        var stepStartedUnixMs: Int64
        var unixMs: Int64
    }

    /// Writes `change` to the rollout's structure: under the store's lock (the registry's), only if the stored
    /// structure still holds the generation this replica last read or wrote (compare-and-swap), as
    /// generation + 1; then publishes the new routing table. Rollouts kept in memory just apply `change` and
    /// publish.
    ///
    /// Errors: `.aborted` when another replica wrote a newer generation meanwhile (nothing was changed; the
    /// next ``follow(model:)`` adopts the newer state), `.internalError` when the lock or the write failed
    /// (nothing was changed either), or whatever `change` throws.
    func commit(_ rollout: Rollout, _ change: (inout RolloutData) throws(RolloutError) -> Void) throws(RolloutError) {
        guard let store else {
            try rollout.data.withLock { d throws(RolloutError) in try change(&d) }
            republish(rollout)
            return
        }
        let model = rollout.model
        let expected = fleet.withLock { $0.marks[model]?.generation ?? 0 }
        var locked = false
        var generation = expected
        do {
            try store.exclusively { () throws(RolloutError) in
                locked = true
                let current: [UInt8]?
                do throws(RolloutError) { current = try store.readStructure(model: model) } catch {
                    throw writeFailure("cannot save the rollout of \(model): \(error.message)")
                }
                if let bytes = current {
                    // A damaged document counts as generation 0: restore reported it, and a new START may
                    // replace it.
                    let stored = (try? Self.decode(bytes, model: model, location: ""))?.stateGeneration ?? 0
                    guard stored == expected else {
                        throw RolloutError(
                            .aborted,
                            "the rollout of model \(model) changed on another replica (generation \(expected) → "
                                + "\(stored)) while this command ran; retry")
                    }
                }
                generation = expected &+ 1
                let next = generation
                let (before, structure) = try rollout.data.withLock {
                    d throws(RolloutError) -> (RolloutData, RolloutData) in
                    let before = d
                    do throws(RolloutError) { try change(&d) } catch {
                        d.adoptStructure(of: before)
                        throw error
                    }
                    d.stateGeneration = next
                    return (before, d.structureOnly)
                }
                do {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys]
                    try store.writeStructure(model: model, Array(try encoder.encode(structure)))
                } catch {
                    rollout.data.withLock { $0.adoptStructure(of: before) }
                    throw writeFailure("cannot save the rollout of \(model): \(error)")
                }
            }
        } catch {
            if !locked { throw writeFailure("cannot save the rollout of \(model): \(error.message)") }
            throw error
        }
        let version = store.structureVersion(model: model)
        fleet.withLock {
            $0.marks[model] = FleetView.Mark(generation: generation, stamp: version, rolloutID: rollout.id)
        }
        republish(rollout)
    }

    /// Counts a failed write and returns it as an internal error.
    func writeFailure(_ message: String) -> RolloutError {
        writeErrors.add(1, ordering: .relaxed)
        return RolloutError(.internalError, message)
    }

    /// Loads every model's shared structure (`<directory>/<model>/rollout.json`), re-creating the routing of
    /// active rollouts with the same rollout ids (hence the same key assignments), with this replica's statistics
    /// from its own document. Returns one error per document that could not be used; those models start without
    /// a rollout.
    @discardableResult
    public func restore() -> [RolloutError] {
        guard let store else { return [] }
        guard let names = store.models() else {
            return [RolloutError(.internalError, "cannot list \(store.location)")]
        }
        var problems: [RolloutError] = []
        control.withLock { _ in
            for name in names {
                guard let version = store.structureVersion(model: name) else { continue }
                do throws(RolloutError) {
                    adopt(try load(model: name), model: name, stamp: version, prepare: false)
                } catch {
                    fleet.withLock { $0.marks[name] = FleetView.Mark(generation: 0, stamp: version, rolloutID: "") }
                    problems.append(error)
                }
            }
        }
        return problems
    }

    /// Reads and checks `model`'s structure from the store.
    func load(model: String) throws(RolloutError) -> RolloutData {
        guard let store else { throw RolloutError(.internalError, "rollouts are kept in memory") }
        let location = store.structureLocation(model: model)
        guard let bytes = try store.readStructure(model: model) else {
            throw RolloutError(.internalError, "\(location) disappeared")
        }
        return try Self.decode(bytes, model: model, location: location)
    }

    /// Decodes and checks one structure document (format 2: structure only; format 1: with one replica's
    /// statistics). `location` names it in messages.
    static func decode(_ bytes: [UInt8], model: String, location path: String) throws(RolloutError) -> RolloutData {
        var data: RolloutData
        do {
            data = try JSONDecoder().decode(RolloutData.self, from: Data(bytes))
        } catch {
            throw RolloutError(.internalError, "cannot read \(path): \(error)")
        }
        let n = data.variants.count
        func bad(_ what: String) -> RolloutError { RolloutError(.internalError, "\(path) is inconsistent: \(what)") }
        guard data.formatVersion == 1 || data.formatVersion == RolloutData.currentFormat else {
            throw bad("format version \(data.formatVersion), expected 1 or \(RolloutData.currentFormat)")
        }
        guard data.model == model else { throw bad("it names model \(data.model), not \(model)") }
        let statistics = data.stepStats.count == n && data.overallStats.count == n
        let structureOnly = data.formatVersion == 2 && data.stepStats.isEmpty && data.overallStats.isEmpty
        guard n > 0, statistics || structureOnly else {
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
        if data.formatVersion == 1 { data.stateGeneration = 0 }
        data.recordsSinceEvaluation = 0
        return data
    }

    // MARK: Background work

    /// Finishes what an ended rollout still owes: the registry promotion of a promoted candidate, and turning
    /// routing off once `Production` is the version all traffic goes to. Call with `control` held (for a
    /// shared rollout: on the replica that ended it, or the lease holder).
    func settle(_ rollout: Rollout) throws(RolloutError) {
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
                try commit(rollout) { d in
                    d.transition(
                        to: .paused,
                        reason: "promotion of version \(version) to Production failed (\(error)); "
                            + "paused with the traffic split restored", at: now)
                    d.routeAllTo = nil
                    d.routingGeneration &+= 1
                }
                return
            }
        }
        guard registry.productionVersion(model: model) == version else { return }
        try commit(rollout) { d in
            d.routingActive = false
            d.routingGeneration &+= 1
        }
    }

    /// ``settle(_:)`` on a background path: failures are logged (and write failures counted).
    func settleReporting(_ rollout: Rollout) {
        do throws(RolloutError) { try settle(rollout) } catch {
            if error.code != .aborted { log("rollouts: settling the rollout of \(rollout.model): \(error.message)") }
        }
    }

    /// Follows the shared state, writes this replica's statistics, and (as lease holder) judges automatic
    /// decisions and finishes ended rollouts. Call a few times a second from a background thread
    /// (``runTicker(intervalMs:)`` does).
    public func tick() {
        if isShared { control.withLock { _ in followAll() } }
        for rollout in allRollouts() {
            guard isShared else {
                if let change = rollout.evaluate(clock: clock) {
                    publish(change.table, generation: change.generation, of: rollout)
                    countVerdict(change.verdict, model: rollout.model)
                }
                control.withLock { _ in settleReporting(rollout) }
                continue
            }
            control.withLock { _ in tickShared(rollout) }
        }
    }

    /// Writes this replica's statistics now (at shutdown), reporting a failure.
    public func flush() {
        control.withLock { _ in
            for rollout in allRollouts() {
                do throws(RolloutError) { try saveStatistics(rollout, force: true) } catch {
                    log("rollouts: \(error.message)")
                }
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
