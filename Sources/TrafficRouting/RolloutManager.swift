import Synchronization

/// Canary and A/B rollouts of every model: the per-request splitter, the statistics, the automatic decisions,
/// the `Rollout` commands and their persistence.
///
/// The per-request path (``assign(model:routingKey:)``, ``record(_:outcome:)``) is synchronous and cheap: one
/// uncontended lock to read the model's immutable routing table, a hash of the key bytes, and one short lock to
/// add the outcome. Commands (``execute(model:_:)``) call the registry and write `rollout.json`; run them off the
/// event loop. Call ``tick()`` a few times a second (or run ``runTicker(intervalMs:)``): with a `directory`, it
/// follows the state other replicas write there, saves this replica's statistics about twice a second, and (as
/// the lease holder) takes the fleet's automatic decisions; in memory, it judges time-based step advances.
public final class RolloutManager: Sendable {
    /// What the manager knows about one model: its latest rollout (active or ended) and the table requests use.
    struct ModelEntry: Sendable {
        var rollout: Rollout
        /// `nil`: requests without a version go to `Production`.
        var table: RoutingTable?
        /// The routing generation of `table`, so an older table never replaces a newer one.
        var generation: UInt64
    }

    /// Where the rollout state shared by replicas is kept; `nil` keeps everything in memory.
    public let store: (any RolloutStateStore)?
    let registry: any RolloutRegistry
    let clock: any RolloutClock
    let random: RandomSource
    /// Makes the id of a new rollout (128 random bits by default; tests fix it so hash-based splits repeat).
    let makeRolloutID: @Sendable () -> String
    /// Every model's entry, plus the tables alone so the per-request lookup copies (retains) only a table.
    struct Routes: Sendable {
        var entries: [String: ModelEntry] = [:]
        var tables: [String: RoutingTable] = [:]
        /// The same tables as a short list while there are few: comparing a handful of names byte for byte is
        /// cheaper than hashing the name for the dictionary.
        var few: [(model: String, table: RoutingTable)] = []
        static let fewLimit = 8

        /// Installs `entry` for `model`, keeping `tables` and `few` in step.
        mutating func set(_ model: String, _ entry: ModelEntry?) {
            entries[model] = entry
            tables[model] = entry?.table
            few = tables.count <= Self.fewLimit ? tables.map { ($0.key, $0.value) } : []
        }

        @inline(__always)
        func table(_ model: String) -> RoutingTable? {
            if tables.count <= Self.fewLimit {
                for item in few where item.model == model { return item.table }
                return nil
            }
            return tables[model]
        }
    }
    let routes = Mutex(Routes())
    /// Number of models whose rollout routes traffic: when 0 (the usual case), `assign` returns at once.
    let routedModels = Atomic<Int>(0)
    /// Serializes commands, settlements and file writes (never taken on the per-request path).
    let control = Mutex<Void>(())
    /// Per rollout id: what this replica's statistics file last held, to write it at most about twice a second.
    let lastSaved = Mutex<[String: SaveMark]>([:])
    /// Minimum interval between two writes of this replica's statistics file.
    public static let statisticsSaveIntervalMs: Int64 = 500
    /// This replica's name in the fleet: its statistics file and the lease holder's name.
    public let replicaID: String
    /// What this replica knows of the shared files, per model (see `RolloutManager+Fleet.swift`).
    let fleet = Mutex(FleetView())
    /// Background failures (a statistics or state write, a damaged file): logged here and counted.
    let log: @Sendable (String) -> Void
    /// Writes of rollout state or statistics that failed (commands report theirs to the caller as well).
    let writeErrors = Atomic<UInt64>(0)
    /// The other replicas' statistics documents as last read and decoded, per model and replica.
    let decodedStatistics = Mutex<[String: [String: (bytes: [UInt8], file: ReplicaStatsFile?)]]>([:])
    /// Verdicts (advance, rollback, promote) this replica carried out, per model.
    let verdicts = Mutex<[VerdictKey: UInt64]>([:])

    /// - Parameters:
    ///   - directory: the registry root; rollouts there are shared with every replica on the same directory
    ///     (a ``LocalRolloutStateStore``); `nil` keeps them in memory.
    ///   - randomSeed: seeds the splitter for requests without a routing key (random when `nil`).
    ///   - rolloutID: makes new rollout ids (``newRolloutID()`` when `nil`); a fixed id makes keyed splits repeat.
    ///   - replicaID: this replica's name among those sharing `directory` (unique per replica).
    ///   - log: where background failures are reported.
    public convenience init(
        directory: String?, registry: any RolloutRegistry, clock: any RolloutClock = SystemRolloutClock(),
        randomSeed: UInt64? = nil, rolloutID: (@Sendable () -> String)? = nil, replicaID: String = "local",
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.init(
            store: directory.map { LocalRolloutStateStore(root: $0) }, registry: registry, clock: clock,
            randomSeed: randomSeed, rolloutID: rolloutID, replicaID: replicaID, log: log)
    }

    /// As ``init(directory:registry:clock:randomSeed:rolloutID:replicaID:log:)`` with the shared state in `store`
    /// (another model source's store).
    public init(
        store: (any RolloutStateStore)?, registry: any RolloutRegistry, clock: any RolloutClock = SystemRolloutClock(),
        randomSeed: UInt64? = nil, rolloutID: (@Sendable () -> String)? = nil, replicaID: String = "local",
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.store = store
        self.registry = registry
        self.clock = clock
        self.random = randomSeed.map { RandomSource(seed: $0) } ?? RandomSource()
        self.makeRolloutID = rolloutID ?? Self.newRolloutID
        self.replicaID = replicaID
        self.log = log
    }

    /// Whether rollouts are shared through files (a registry directory) rather than kept in memory.
    var isShared: Bool { store != nil }

    // MARK: Per-request path

    /// The variant for a request to `model` that names no version, or `nil` when the model has no rollout routing
    /// traffic (the caller then uses `Production`). A non-empty `routingKey` is assigned deterministically (see
    /// ``RoutingKeyHash``); an empty one at random at the current weights.
    @inline(__always)
    public func assign(model: String, routingKey: String) -> Assignment? {
        guard routedModels.load(ordering: .acquiring) > 0, let table = routes.withLock({ $0.table(model) })
        else { return nil }
        let bp =
            routingKey.isEmpty
            ? RoutingKeyHash.basisPoints(random.next())
            : RoutingKeyHash.basisPoints(prefix: table.prefix, key: routingKey)
        return table.assignment(basisPoint: bp)
    }

    /// As ``assign(model:routingKey:)`` with the key as raw bytes (empty → random).
    public func assign(model: String, routingKeyBytes: UnsafeRawBufferPointer) -> Assignment? {
        guard routedModels.load(ordering: .acquiring) > 0, let table = routes.withLock({ $0.table(model) })
        else { return nil }
        let bp =
            routingKeyBytes.isEmpty
            ? RoutingKeyHash.basisPoints(random.next())
            : RoutingKeyHash.basisPoints(prefix: table.prefix, keyBytes: routingKeyBytes)
        return table.assignment(basisPoint: bp)
    }

    /// Adds the outcome of a request served under `assignment` to its variant's statistics. In `auto` mode this
    /// may roll back (routing switches to the baseline before this returns) or advance the canary.
    public func record(_ assignment: Assignment, outcome: Outcome) {
        guard
            let change = assignment.rollout.record(
                variantIndex: assignment.variantIndex, outcome: outcome, clock: clock)
        else { return }
        // Only rollouts kept in memory decide here (a shared rollout is judged by the lease holder's ticker).
        publish(change.table, generation: change.generation, of: assignment.rollout)
        countVerdict(change.verdict, model: assignment.rollout.model)
        // Registry work happens off the request path.
        let rollout = assignment.rollout
        Task.detached { [self] in
            self.control.withLock { _ in self.settleReporting(rollout) }
        }
    }

    /// Records the shadow's outcome for a request served under `assignment`, and whether its answer agreed with
    /// the answer returned. The agreement rate is agreement with the baseline (the control arm of an A/B test):
    /// only requests the baseline answered count toward it; the shadow's latency and errors count for every
    /// request. Ignored when the assignment has no shadow.
    public func recordShadow(_ assignment: Assignment, outcome: Outcome, agreed: Bool) {
        guard let index = assignment.shadowVariantIndex else { return }
        assignment.rollout.recordShadow(
            variantIndex: index, primary: assignment.variantIndex, outcome: outcome, agreed: agreed)
    }

    /// Share of `model`'s routed traffic `version` currently receives (0…1), or `nil` when no rollout routes it.
    public func trafficShare(model: String, version: Int64) -> Double? {
        guard let table = routes.withLock({ $0.table(model) }) else { return nil }
        var previous = 0
        var share = 0
        for (bound, target) in zip(table.upperBounds, table.targets) {
            if target.version == version { share += bound - previous }
            previous = bound
        }
        return Double(share) / 10_000
    }

    // MARK: Routing tables

    /// Makes `table` the one requests see, unless `rollout` is no longer the model's rollout or a newer table
    /// was already published.
    func publish(_ table: RoutingTable?, generation: UInt64, of rollout: Rollout) {
        routes.withLock { routes in
            guard var entry = routes.entries[rollout.model], entry.rollout === rollout, generation >= entry.generation
            else { return }
            entry.table = table
            entry.generation = generation
            routes.set(rollout.model, entry)
            routedModels.store(routes.tables.count, ordering: .releasing)
        }
    }

    /// Rebuilds and publishes `rollout`'s table from its current state.
    func republish(_ rollout: Rollout) {
        let (table, generation) = rollout.data.withLock {
            ($0.routingActive ? rollout.makeTable($0) : nil, $0.routingGeneration)
        }
        publish(table, generation: generation, of: rollout)
    }

    /// Replaces `model`'s entry (and table); returns the previous entry.
    @discardableResult
    func install(_ entry: ModelEntry?, for model: String) -> ModelEntry? {
        routes.withLock { routes in
            let previous = routes.entries[model]
            routes.set(model, entry)
            routedModels.store(routes.tables.count, ordering: .releasing)
            return previous
        }
    }

    func rollout(of model: String) -> Rollout? {
        routes.withLock { $0.entries[model]?.rollout }
    }

    /// Every model's rollout.
    func allRollouts() -> [Rollout] {
        routes.withLock { $0.entries.values.map(\.rollout) }
    }
}
