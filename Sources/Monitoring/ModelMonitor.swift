import Synchronization

/// Monitors one loaded version: records requests into its ``LiveWindow`` and computes ``DriftReport``s.
///
/// Everything the serving path needs is resolved once at load: for each profiled numeric feature its slot in
/// the row, its bin edges and a cell table over their range (raw storage); for each categorical feature its slot
/// and a category lookup; the offsets of their counters in a window block. Recording a row touches only those.
public final class ModelMonitor: @unchecked Sendable {
    /// A monitored numeric feature (or the prediction score): where to read it and where its bins start.
    ///
    /// Finding a value's bin takes a multiply and a table lookup: at load, the range of the edges is cut into
    /// ``cellCount`` equal cells and each cell stores the bin of its lower end; a value starts from its cell's bin
    /// and steps over the (usually zero or one) edges inside the cell. No search, no branch per edge.
    struct NumericChannel {
        static let cellCount = 256
        /// Index among the row's numeric values (unused for the score).
        let slot: Int
        /// Counter offset of bin 0; the missing bin follows the `edgeCount + 1` value bins.
        let offset: Int
        let edges: UnsafeMutablePointer<Double>
        let edgeCount: Int
        /// The bin of each cell's lower end.
        let cells: UnsafeMutablePointer<Int32>
        let low: Double
        let scale: Double

        /// Allocates the edges and the cell table (freed by ``release()``).
        init(slot: Int, offset: Int, edges values: [Double]) {
            self.slot = slot
            self.offset = offset
            edgeCount = values.count
            edges = .allocate(capacity: max(1, values.count))
            _ = UnsafeMutableBufferPointer(start: edges, count: values.count).initialize(from: values)
            cells = .allocate(capacity: Self.cellCount)
            low = values.first ?? 0
            let span = (values.last ?? 0) - low
            scale = span > 0 ? Double(Self.cellCount) / span : 0
            for cell in 0..<Self.cellCount {
                let start = scale > 0 ? low + Double(cell) / scale : low
                (cells + cell).initialize(to: Int32(ProfileBuilder.bin(of: start, edges: values)))
            }
        }

        func release() {
            edges.deallocate()
            cells.deallocate()
        }

        /// The first `i` with `value <= edges[i]` (else `edgeCount`; NaN: the missing bin).
        @inline(__always)
        func bin(_ value: Double) -> Int {
            if value.isNaN { return edgeCount &+ 1 }
            if edgeCount == 0 || !(value > low) { return 0 }
            if value > edges[edgeCount &- 1] { return edgeCount }
            let position = (value - low) * scale
            let cell = position < Double(Self.cellCount) ? Int(position) : Self.cellCount &- 1
            var bin = Int(cells[cell])
            // The cell's lower end is at or below the value (up to rounding, which the second loop undoes).
            while bin < edgeCount && edges[bin] < value { bin &+= 1 }
            while bin > 0 && edges[bin &- 1] >= value { bin &-= 1 }
            return bin
        }
    }

    /// A monitored categorical feature: categories, then "other" (unseen), then missing.
    struct CategoricalChannel {
        let slot: Int
        let offset: Int
        let categories: [String]
        /// For many categories a hash lookup; a few are compared directly.
        let index: [String: Int]?

        @inline(__always)
        func bin(_ value: String) -> Int {
            if value.isEmpty { return categories.count + 1 }
            if let index { return index[value] ?? categories.count }
            for position in 0..<categories.count where categories[position] == value { return position }
            return categories.count
        }
    }

    /// How a row's prediction is read: score channel and class counters.
    public struct PredictionLayout: Sendable {
        public var kind: PredictionProfile.Kind
        public var classes: [String]
        public var positiveClass: Int?

        public init(kind: PredictionProfile.Kind, classes: [String], positiveClass: Int?) {
            self.kind = kind
            self.classes = classes
            self.positiveClass = positiveClass
        }
    }

    /// A feature of the served model: name, whether it is a string feature, its slot among its kind.
    public struct ModelFeature: Sendable {
        public var name: String
        public var categorical: Bool
        public var slot: Int

        public init(name: String, categorical: Bool, slot: Int) {
            self.name = name
            self.categorical = categorical
            self.slot = slot
        }
    }

    public let model: String
    public let version: Int64
    public let profile: ReferenceProfile
    public let settings: MonitorSettings
    public let window: LiveWindow
    /// Profiled features, in model order, with the profile they are compared with.
    let monitored: [(feature: FeatureProfile, numeric: Bool, channel: Int)]
    private let numeric: UnsafeMutableBufferPointer<NumericChannel>
    private let numericCount: Int
    private let categorical: [CategoricalChannel]
    private let score: NumericChannel?
    private let classOffset: Int
    private let classCount: Int
    private let predictionProfile: PredictionProfile?
    private let notes: [String]
    private let latest = Mutex<DriftReport?>(nil)

    /// Lays out the counters for the features `profile` and the model share; returns nil when they share none.
    public init?(
        model: String, version: Int64, profile: ReferenceProfile, features: [ModelFeature],
        prediction: PredictionLayout?, settings: MonitorSettings, now: UInt64
    ) {
        self.model = model
        self.version = version
        self.profile = profile
        self.settings = settings
        var notes: [String] = []
        var offset = 1
        var numericChannels: [NumericChannel] = []
        var categoricalChannels: [CategoricalChannel] = []
        var monitored: [(FeatureProfile, Bool, Int)] = []
        let byName = Dictionary(profile.features.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for feature in features {
            guard let reference = byName[feature.name] else {
                notes.append("feature \"\(feature.name)\" is not in the profile (not monitored)")
                continue
            }
            switch (feature.categorical, reference.kind) {
            case (false, .numeric):
                monitored.append((reference, true, numericChannels.count))
                numericChannels.append(NumericChannel(slot: feature.slot, offset: offset, edges: reference.edges))
                offset += reference.edges.count + 2
            case (true, .categorical):
                let index = reference.categories.count > 16
                    ? Dictionary(reference.categories.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a }) : nil
                monitored.append((reference, false, categoricalChannels.count))
                categoricalChannels.append(
                    CategoricalChannel(slot: feature.slot, offset: offset, categories: reference.categories, index: index))
                offset += reference.categories.count + 2
            default:
                notes.append("feature \"\(feature.name)\" is \(feature.categorical ? "a string" : "numeric") in the model but \(reference.kind.rawValue) in the profile (not monitored)")
            }
        }
        let served = Set(features.map(\.name))
        for reference in profile.features where !served.contains(reference.name) {
            notes.append("profile feature \"\(reference.name)\" is not an input of this version")
        }
        if let prediction, let reference = profile.prediction, reference.kind == prediction.kind,
            reference.classes == prediction.classes
        {
            score = NumericChannel(slot: 0, offset: offset, edges: reference.score.edges)
            offset += reference.score.edges.count + 2
            classOffset = offset
            classCount = prediction.classes.count
            offset += classCount
            predictionProfile = reference
        } else {
            if profile.prediction != nil { notes.append("the profile's predictions do not match this version's classes (prediction not monitored)") }
            score = nil
            classOffset = offset
            classCount = 0
            predictionProfile = nil
        }
        guard !monitored.isEmpty || score != nil else { return nil }
        numericCount = numericChannels.count
        numeric = .allocate(capacity: max(1, numericChannels.count))
        _ = numeric.initialize(from: numericChannels)
        categorical = categoricalChannels
        self.monitored = monitored
        self.notes = notes
        window = LiveWindow(width: offset, now: now)
    }

    deinit {
        for channel in numeric.prefix(numericCount) { channel.release() }
        numeric.deallocate()
        score?.release()
    }

    /// Records row `row` of a batch: `numeric` is row-major with `stride` values per row, `strings[k]` the
    /// values of string feature k; `score` NaN and `classIndex` -1 when there is no prediction to record.
    @inline(__always)
    public func record(
        numeric values: UnsafeBufferPointer<Float>, stride: Int, strings: [[String]], row: Int, score value: Double,
        classIndex: Int
    ) {
        let block = window.block()
        LiveWindow.increment(block, 0)
        let base = row * stride
        for index in 0..<numericCount {
            let channel = numeric[index]
            LiveWindow.increment(block, channel.offset + channel.bin(Double(values[base + channel.slot])))
        }
        for channel in categorical {
            LiveWindow.increment(block, channel.offset + channel.bin(strings[channel.slot][row]))
        }
        if let score {
            LiveWindow.increment(block, score.offset + score.bin(value))
            if classIndex >= 0 && classIndex < classCount { LiveWindow.increment(block, classOffset + classIndex) }
        }
    }

    /// The most recent report (computed by ``refresh(now:wallMillis:)``).
    public var report: DriftReport? { latest.withLock { $0 } }

    /// Advances the window and recomputes the report. Timer thread only.
    @discardableResult
    public func refresh(now: UInt64, wallMillis: Int64) -> DriftReport {
        let perSegment = UInt64(settings.windowSeconds * 1e9) / UInt64(LiveWindow.segments)
        window.rotate(now: now, rowsPerSegment: settings.windowRows / LiveWindow.segments, nanosPerSegment: perSegment)
        let counts = window.merged(now: now, maxRows: settings.windowRows, maxAgeNanos: UInt64(settings.windowSeconds * 1e9))
        let report = compute(counts, wallMillis: wallMillis)
        latest.withLock { $0 = report }
        return report
    }

    /// Maintains the window without computing statistics (between reports). Timer thread only.
    public func rotate(now: UInt64) {
        let perSegment = UInt64(settings.windowSeconds * 1e9) / UInt64(LiveWindow.segments)
        window.rotate(now: now, rowsPerSegment: settings.windowRows / LiveWindow.segments, nanosPerSegment: perSegment)
    }

    /// The statistics of merged window counts against the profile.
    func compute(_ counts: [UInt64], wallMillis: Int64) -> DriftReport {
        let rows = counts[0]
        let judging = rows >= UInt64(settings.minRows)
        let warn = settings.psiWarn
        let drift = settings.psiDrift
        var features: [FeatureDrift] = []
        for (reference, isNumeric, channelIndex) in monitored {
            if isNumeric {
                let channel = numeric[channelIndex]
                let binCount = channel.edgeCount + 1
                let live = (0..<binCount).map { Double(counts[channel.offset + $0]) }
                let missing = Double(counts[channel.offset + binCount])
                features.append(numericDrift(reference, live: live, missing: missing, rows: rows, judging: judging))
            } else {
                let channel = categorical[channelIndex]
                let known = channel.categories.count
                let live = (0..<known).map { Double(counts[channel.offset + $0]) }
                let unseen = Double(counts[channel.offset + known])
                let missing = Double(counts[channel.offset + known + 1])
                let present = live.reduce(0, +) + unseen
                let referenceCounts = reference.categoryCounts.map(Double.init)
                let psi = DriftStatistics.psi(live: live + [unseen], reference: referenceCounts + [Double(reference.otherCount)])
                let knownTotal = referenceCounts.reduce(0, +)
                let chi = knownTotal > 0
                    ? DriftStatistics.chiSquare(observed: live, expectedShares: referenceCounts.map { $0 / knownTotal }) : nil
                features.append(FeatureDrift(
                    name: reference.name, kind: .categorical, count: Int64(present), psi: psi, ksStatistic: nil,
                    ksPValue: nil, chiSquare: chi?.statistic, chiSquarePValue: chi?.pValue,
                    missingShare: rows > 0 ? missing / Double(rows) : 0, unseenShare: present > 0 ? unseen / present : 0,
                    verdict: judging ? DriftVerdict.of(psi, warn: warn, drift: drift) : .ok))
            }
        }
        var prediction: PredictionDrift?
        if let score, let reference = predictionProfile {
            let binCount = score.edgeCount + 1
            let live = (0..<binCount).map { Double(counts[score.offset + $0]) }
            let scoreDrift = numericDrift(reference.score, live: live, missing: 0, rows: rows, judging: judging)
            let classes = (0..<classCount).map { Double(counts[classOffset + $0]) }
            let total = classes.reduce(0, +)
            let positiveRate = reference.positiveClass.flatMap { total > 0 ? classes[$0] / total : nil }
            let referenceRate = reference.positiveRate
            prediction = PredictionDrift(
                kind: reference.kind, psi: scoreDrift.psi, ksStatistic: scoreDrift.ksStatistic,
                positiveRate: positiveRate, referencePositiveRate: referenceRate,
                positiveRateShift: positiveRate.flatMap { live in referenceRate.map { live - $0 } },
                classShares: classes.map { total > 0 ? $0 / total : 0 }, verdict: scoreDrift.verdict)
        }
        var notes = self.notes
        if !judging {
            notes.append("collecting: \(rows) of at least \(settings.minRows) requests before verdicts")
        }
        let worst = (features.map(\.verdict) + [prediction?.verdict ?? .ok]).max() ?? .ok
        return DriftReport(
            model: model, version: version, computedUnixMs: wallMillis, windowRows: Int64(rows), settings: settings,
            referenceRows: profile.rows, verdict: worst, features: features, prediction: prediction, notes: notes)
    }

    /// PSI (on the decile groups of the fine bins) and KS (on the fine bins) of a numeric channel.
    private func numericDrift(
        _ reference: FeatureProfile, live: [Double], missing: Double, rows: UInt64, judging: Bool
    ) -> FeatureDrift {
        let referenceCounts = reference.counts.map(Double.init)
        var livePSI = Array(repeating: 0.0, count: reference.psiEdges.count + 1)
        var referencePSI = livePSI
        for fine in live.indices {
            let group = fine < reference.edges.count
                ? ProfileBuilder.bin(of: reference.edges[fine], edges: reference.psiEdges) : reference.psiEdges.count
            livePSI[group] += live[fine]
            referencePSI[group] += referenceCounts[fine]
        }
        let psi = DriftStatistics.psi(live: livePSI, reference: referencePSI)
        let ks = DriftStatistics.ks(live: live, reference: referenceCounts)
        let present = live.reduce(0, +)
        return FeatureDrift(
            name: reference.name, kind: .numeric, count: Int64(present), psi: psi, ksStatistic: ks?.statistic,
            ksPValue: ks?.pValue, chiSquare: nil, chiSquarePValue: nil,
            missingShare: rows > 0 ? missing / Double(rows) : 0, unseenShare: 0,
            verdict: judging ? DriftVerdict.of(psi, warn: settings.psiWarn, drift: settings.psiDrift) : .ok)
    }
}
