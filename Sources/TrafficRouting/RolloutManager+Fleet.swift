import DurableFiles
import FoundationEssentials
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// What one replica knows of the files it shares with the others on a registry directory.
///
/// ```
/// <registry>/.lock                                  the registry's lock (flock): held for every write below
/// <registry>/<model>/rollout.json                   structure: steps, weights, state, history, stateGeneration
/// <registry>/<model>/rollout-lease/lease.json       who judges automatic decisions: holder, expiry
/// <registry>/<model>/rollout-stats/<replica>.json   one replica's counts (written by that replica only)
/// ```
struct FleetView: Sendable {
    /// The last `rollout.json` this replica read or wrote, per model.
    struct Mark: Sendable, Equatable {
        var generation: UInt64
        /// The store's ``RolloutStateStore/structureVersion(model:)`` when it was read or written.
        var stamp: String?
        var rolloutID: String
    }
    var marks: [String: Mark] = [:]
    /// Until when (Unix ms) this replica holds each model's lease, as last written.
    var leases: [String: Int64] = [:]
    /// Damaged files already reported, so a bad file is logged once per change, not every tick.
    var reported: [String: String] = [:]
}

/// One replica's statistics of one rollout: `<model>/rollout-stats/<replica>.json`.
struct ReplicaStatsFile: Codable, Sendable {
    var formatVersion = 1
    var replica: String
    var rolloutID: String
    /// The step window the step statistics belong to.
    var stepIndex: Int
    var stepStartedUnixMs: Int64
    var updatedUnixMs: Int64
    var stepStats: [VariantAccumulator]
    var overallStats: [VariantAccumulator]
}

/// Who judges a model's automatic decisions: `<model>/rollout-lease/lease.json` (in a directory of its own,
/// so renewing it does not touch the model directory the registry watches).
struct RolloutLease: Codable, Sendable {
    var holder: String
    var expiresUnixMs: Int64
}

/// A verdict counter's labels.
struct VerdictKey: Hashable, Sendable {
    var model: String
    var verdict: Verdict
}

extension RolloutManager {
    /// How long a lease lasts; the holder renews it when less than ``leaseRenewMs`` is left.
    public static let leaseMs: Int64 = 3000
    static let leaseRenewMs: Int64 = 2000

    // MARK: Following the shared structure

    /// Adopts every model's `rollout.json` that changed since this replica last looked. Call with `control` held.
    func followAll() {
        guard let names = store?.models() else { return }
        for name in names { follow(model: name) }
    }

    /// Adopts `model`'s `rollout.json` if it changed (a stat when it did not). Damaged files are logged once
    /// per change and leave the current state alone. Call with `control` held.
    func follow(model: String) {
        guard let stamp = store?.structureVersion(model: model) else { return }
        let mark = fleet.withLock { $0.marks[model] }
        if let mark, mark.stamp == stamp { return }
        do throws(RolloutError) {
            let data = try load(model: model)
            if let mark, mark.generation == data.stateGeneration, mark.rolloutID == data.id {
                fleet.withLock { $0.marks[model]?.stamp = stamp }
                return
            }
            adopt(data, model: model, stamp: stamp)
        } catch {
            let first = fleet.withLock { view -> Bool in
                defer { view.reported[model] = stamp }
                return view.reported[model] != stamp
            }
            if first { log("rollouts: \(error.message)") }
        }
    }

    /// Installs `data`, read from `rollout.json`: the same rollout keeps this replica's statistics; another
    /// rollout starts from this replica's statistics file (a restart) or from zero. The versions it routes to
    /// are loaded before the table is published (unless `prepare` is false: at startup, before the registry
    /// runs, the server pins them itself). Call with `control` held.
    func adopt(_ data: RolloutData, model: String, stamp: String?, prepare: Bool = true) {
        var data = data
        let n = data.variants.count
        if prepare {
            // Active: every variant; ended but still routing (e.g. a promotion on its way to the registry): the
            // variant everything goes to; not routing: nothing.
            let routed: Set<Int64> =
                !data.routingActive
                ? []
                : data.state.isActive
                    ? Set(data.variants.map(\.version))
                    : data.routeAllTo.map { $0 < n ? [data.variants[$0].version] : [] } ?? []
            registry.keepLoaded(model: model, versions: routed)
        }
        if let current = rollout(of: model), current.id == data.id {
            let wasRouting = current.data.withLock { $0.routingActive }
            if prepare, wasRouting, !data.routingActive, let target = data.routeAllTo, target < n {
                // Routing ends because `Production` is now the target: keep routing to it until this replica's
                // registry serves it as Production.
                registry.awaitServingProduction(model: model, version: data.variants[target].version)
            }
            current.data.withLock { $0.adoptStructure(of: data) }
            republish(current)
        } else {
            // The rollout being replaced keeps its last counts in this replica's file.
            if let previous = rollout(of: model) {
                do throws(RolloutError) { try saveStatistics(previous, force: true) } catch {
                    log("rollouts: \(error.message)")
                }
            }
            if data.stepStats.count != n || data.overallStats.count != n {
                data.stepStats = Array(repeating: VariantAccumulator(), count: n)
                data.overallStats = data.stepStats
                if let bytes = store?.readStatistics(model: model, replica: replicaID),
                    let own = Self.decodeStatistics(bytes), own.rolloutID == data.id, own.overallStats.count == n
                {
                    data.overallStats = own.overallStats
                    if own.stepIndex == data.stepIndex, own.stepStartedUnixMs == data.stepStartedUnixMs,
                        own.stepStats.count == n
                    {
                        data.stepStats = own.stepStats
                    }
                }
            }
            let rollout = Rollout(data: data, judgesOnRecord: !isShared)
            install(ModelEntry(rollout: rollout, table: nil, generation: 0), for: model)
            republish(rollout)
        }
        fleet.withLock {
            $0.marks[model] = FleetView.Mark(generation: data.stateGeneration ?? 0, stamp: stamp, rolloutID: data.id)
        }
    }

    // MARK: Statistics

    /// A statistics document, or `nil` when it is not one (a half-written foreign file, another format).
    static func decodeStatistics(_ bytes: [UInt8]) -> ReplicaStatsFile? {
        try? JSONDecoder().decode(ReplicaStatsFile.self, from: Data(bytes))
    }

    /// Writes this replica's statistics of `rollout` if they changed (at most every
    /// ``statisticsSaveIntervalMs`` unless `force`). Own file, atomic rename: no lock needed.
    func saveStatistics(_ rollout: Rollout, force: Bool = false) throws(RolloutError) {
        guard let store else { return }
        let data = rollout.data.withLock { $0 }
        let now = clock.nowUnixMs()
        let records = data.overallStats.reduce(0) { $0 &+ $1.requests &+ $1.shadowCompared }
        let previous = lastSaved.withLock { $0[rollout.id] }
        if let previous, previous.records == records, previous.stepIndex == data.stepIndex,
            previous.stepStartedUnixMs == data.stepStartedUnixMs
        {
            return
        }
        if previous == nil && records == 0 && !force { return }
        if !force, let previous, now - previous.unixMs < Self.statisticsSaveIntervalMs { return }
        let file = ReplicaStatsFile(
            replica: replicaID, rolloutID: data.id, stepIndex: data.stepIndex,
            stepStartedUnixMs: data.stepStartedUnixMs, updatedUnixMs: now, stepStats: data.stepStats,
            overallStats: data.overallStats)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try store.writeStatistics(model: rollout.model, replica: replicaID, Array(try encoder.encode(file)))
        } catch {
            throw writeFailure("cannot save the statistics of the rollout of \(rollout.model): \(error)")
        }
        let mark = SaveMark(
            records: records, stepIndex: data.stepIndex, stepStartedUnixMs: data.stepStartedUnixMs, unixMs: now)
        lastSaved.withLock { $0[rollout.id] = mark }
    }

    /// The other replicas' statistics documents of `rollout` (same rollout id), sorted by replica. A document
    /// whose bytes did not change since the last call is not decoded again (the lease holder reads them on
    /// every tick; they change about twice a second).
    func otherStatistics(_ rollout: Rollout) -> [ReplicaStatsFile] {
        guard let store else { return [] }
        let entries = store.allStatistics(model: rollout.model, except: replicaID)
        var seen: [String: (bytes: [UInt8], file: ReplicaStatsFile?)] = [:]
        let cached = decodedStatistics.withLock { $0[rollout.model] ?? [:] }
        let files = entries.compactMap { entry -> ReplicaStatsFile? in
            let file =
                cached[entry.replica].flatMap { $0.bytes == entry.bytes ? $0.file : nil }
                ?? Self.decodeStatistics(entry.bytes)
            seen[entry.replica] = (entry.bytes, file)
            guard let file, file.rolloutID == rollout.id, file.replica != replicaID else { return nil }
            return file
        }
        decodedStatistics.withLock { $0[rollout.model] = seen }
        return files
    }

    /// `rollout`'s data with every replica's statistics summed (this replica's from memory), and the replicas'
    /// shares.
    func fleetData(_ rollout: Rollout) -> (RolloutData, [ReplicaReport]) {
        var data = rollout.data.withLock { $0 }
        let n = data.variants.count
        var reports = [
            ReplicaReport(
                replicaID: replicaID, requests: data.overallStats.map(\.requests),
                errors: data.overallStats.map(\.errors), updatedUnixMs: clock.nowUnixMs())
        ]
        guard isShared else { return (data, reports) }
        for file in otherStatistics(rollout) where file.overallStats.count == n {
            for i in 0..<n { data.overallStats[i].merge(file.overallStats[i]) }
            if file.stepIndex == data.stepIndex, file.stepStartedUnixMs == data.stepStartedUnixMs,
                file.stepStats.count == n
            {
                for i in 0..<n { data.stepStats[i].merge(file.stepStats[i]) }
            }
            reports.append(
                ReplicaReport(
                    replicaID: file.replica, requests: file.overallStats.map(\.requests),
                    errors: file.overallStats.map(\.errors), updatedUnixMs: file.updatedUnixMs))
        }
        return (data, reports)
    }

    /// The status of a shared rollout: the structure this replica follows, the fleet's summed statistics.
    func fleetStatus(_ rollout: Rollout) -> RolloutStatus {
        let (data, reports) = fleetData(rollout)
        var status = data.status()
        status.generation = data.stateGeneration ?? 0
        status.replicaID = replicaID
        status.replicas = reports
        return status
    }

    // MARK: Lease and fleet verdicts

    /// Whether this replica holds `model`'s lease now: renews it when it runs short, takes it when free or
    /// expired (both under the registry's lock). Call with `control` held.
    func holdsLease(model: String) throws(RolloutError) -> Bool {
        guard let store else { return true }
        let now = clock.nowUnixMs()
        if let until = fleet.withLock({ $0.leases[model] }), until - now > Self.leaseRenewMs { return true }
        let lease = RolloutLease(holder: replicaID, expiresUnixMs: now + Self.leaseMs)
        let held: Bool
        do {
            held = try store.exclusively { () throws(RolloutError) -> Bool in
                if let bytes = store.readLease(model: model),
                    let current = try? JSONDecoder().decode(RolloutLease.self, from: Data(bytes)),
                    current.holder != replicaID, current.expiresUnixMs > now
                {
                    return false
                }
                let bytes: [UInt8]
                do { bytes = Array(try JSONEncoder().encode(lease)) } catch {
                    throw RolloutError(.internalError, "cannot encode the lease: \(error)")
                }
                try store.writeLease(model: model, bytes)
                return true
            }
        } catch {
            fleet.withLock { $0.leases[model] = nil }
            throw writeFailure("cannot take the rollout lease of \(model): \(error.message)")
        }
        fleet.withLock { $0.leases[model] = held ? lease.expiresUnixMs : nil }
        return held
    }

    /// One tick of a shared rollout: this replica's statistics, then (as lease holder) the fleet's automatic
    /// decision and the settlement of an ended rollout. Call with `control` held.
    func tickShared(_ rollout: Rollout) {
        do throws(RolloutError) { try saveStatistics(rollout) } catch { log("rollouts: \(error.message)") }
        let (judge, settleNeeded) = rollout.data.withLock {
            ($0.auto && $0.state == .running && $0.strategy == .canary, $0.routingActive && !$0.state.isActive)
        }
        guard judge || settleNeeded else { return }
        let holder: Bool
        do throws(RolloutError) { holder = try holdsLease(model: rollout.model) } catch {
            log("rollouts: \(error.message)")
            return
        }
        guard holder else { return }
        if judge { judgeFleet(rollout) }
        settleReporting(rollout)
    }

    /// The lease holder's automatic decision from every replica's counts, written with a generation check.
    func judgeFleet(_ rollout: Rollout) {
        let (summed, _) = fleetData(rollout)
        let now = clock.nowUnixMs()
        guard let decision = CanaryJudge.decide(summed, now: now) else { return }
        var verdict: Verdict?
        do throws(RolloutError) {
            try commit(rollout) { d in
                guard d.state == .running, d.sameStepWindow(summed) else { return }
                verdict = rollout.apply(decision, to: &d, now: now).verdict
            }
        } catch {
            if error.code != .aborted { log("rollouts: carrying out a decision: \(error.message)") }
            return
        }
        if let verdict { countVerdict(verdict, model: rollout.model) }
    }

    // MARK: Metrics

    func countVerdict(_ verdict: Verdict, model: String) {
        verdicts.withLock { $0[VerdictKey(model: model, verdict: verdict), default: 0] &+= 1 }
    }

    /// Failed writes of rollout state or statistics (`sluice_rollout_state_write_errors_total`).
    public var stateWriteErrors: UInt64 { writeErrors.load(ordering: .relaxed) }

    /// Verdicts this replica carried out, per model (`sluice_rollout_verdicts_total`).
    public func verdictCounts() -> [(model: String, verdict: Verdict, count: UInt64)] {
        verdicts.withLock { counts in
            counts.map { ($0.key.model, $0.key.verdict, $0.value) }.sorted {
                ($0.model, $0.verdict.rawValue) < ($1.model, $1.verdict.rawValue)
            }
        }
    }

    /// Every model's rollout as this replica routes it: strategy, state, and each variant's weight.
    public func routingSummary() -> [(
        model: String, strategy: RolloutStrategy, state: RolloutState,
        variants: [(name: String, version: Int64, weightPercent: Double)]
    )] {
        allRollouts().map { rollout in
            rollout.data.withLock { d in
                (
                    d.model, d.strategy, d.state,
                    d.variants.enumerated().map { i, v in
                        // The share requests get: all of it for a variant everything is routed to.
                        // An ended rollout sends everything to the variant it ended on (also once routing is off,
                        // since that variant is then Production).
                        let bp = d.routeAllTo.map { $0 == i ? 10_000 : 0 } ?? (d.routingActive ? v.weightBP : 0)
                        return (v.name, v.version, Double(bp) / 100)
                    }
                )
            }
        }.sorted { $0.model < $1.model }
    }
}
