import BackgroundThreads
public import Monitoring
public import ServerMetrics
import Synchronization

/// The monitoring of one loaded version as the serving path sees it: the drift monitor (when the version has
/// a usable profile), the confidence histogram series, and how to read a row's prediction. Built at load.
public final class VersionMonitoring: Sendable {
    /// The drift monitor; nil when the version has no usable profile (`note` says why).
    public let monitor: ModelMonitor?
    /// Why the version is not monitored (no profile, an unreadable one), or nil.
    public let note: String?
    /// Identifies the counter layout in window snapshots: the profile's SHA-256 and the counter width.
    public let layout: String
    /// `sluice_prediction_confidence{model,version}` (classifiers with a monitor).
    let confidence: Histogram?
    /// BatchPredict records every `batchStride`-th row (from a rotating offset).
    let batchStride: Int
    private let batchOffset = Atomic<Int>(0)
    private let kind: PredictionProfile.Kind
    private let classCount: Int
    private let positiveClass: Int
    private let intLabels: [Int64]
    private let stringLabels: Bool
    private let numericCount: Int

    /// What the service needs to monitor a version, prepared before the model is compiled.
    public struct Setup: Sendable {
        public var model: String
        public var version: Int64
        public var profile: ReferenceProfile?
        public var note: String?
        public var settings: MonitorSettings
        public var batchStride: Int
        public var confidence: Histogram?
        /// SHA-256 of the profile file (part of the window snapshots' layout).
        public var profileDigest = ""
        /// The window a previous run saved, restored when its layout matches.
        public var savedWindow: WindowSnapshot?
        /// Where the restore is reported.
        public var log: (@Sendable (String) -> Void)?

        public init(
            model: String, version: Int64, profile: ReferenceProfile?, note: String?, settings: MonitorSettings,
            batchStride: Int, confidence: Histogram?
        ) {
            self.model = model
            self.version = version
            self.profile = profile
            self.note = note
            self.settings = settings
            self.batchStride = batchStride
            self.confidence = confidence
        }
    }

    /// Lays out the monitor for a compiled version's features and labels.
    init(_ setup: Setup, features: FeatureTable, labels: ClassLabels, isRegressor: Bool, now: UInt64) {
        let classes: [String]
        switch labels {
        case .int(let values):
            classes = values.map { String($0) }
            intLabels = values
            stringLabels = false
            positiveClass = PredictionProfile.positiveClass(intLabels: values) ?? -1
        case .string(let values):
            classes = values
            intLabels = []
            stringLabels = true
            positiveClass = PredictionProfile.positiveClass(stringLabels: values) ?? -1
        case .none:
            classes = []
            intLabels = []
            stringLabels = false
            positiveClass = -1
        }
        kind = isRegressor ? .regression : classes.count == 2 ? .binary : .multiclass
        classCount = classes.count
        numericCount = features.numericCount
        batchStride = max(1, setup.batchStride)
        var note = setup.note
        var monitor: ModelMonitor?
        if let profile = setup.profile {
            monitor = ModelMonitor(
                model: setup.model, version: setup.version, profile: profile,
                features: features.features.map {
                    ModelMonitor.ModelFeature(name: $0.name, categorical: $0.kind == .string, slot: $0.slot)
                },
                prediction: isRegressor || !classes.isEmpty
                    ? ModelMonitor.PredictionLayout(kind: kind, classes: classes, positiveClass: positiveClass >= 0 ? positiveClass : nil)
                    : nil,
                settings: setup.settings, now: now)
            if monitor == nil { note = "the profile shares no feature or prediction with this version" }
        }
        layout = monitor.map { "\(setup.profileDigest)/\($0.window.width)" } ?? ""
        if let monitor, let saved = setup.savedWindow {
            let outcome = monitor.restore(
                saved, layout: layout, now: now, wallMillis: Int64(WallClock.now() * 1000))
            setup.log?("monitoring: \(setup.model) version \(setup.version): \(outcome)")
        }
        self.monitor = monitor
        self.note = note
        confidence = monitor != nil && !isRegressor ? setup.confidence : nil
    }

    /// Records row `row` of the scratch buffers (after the model ran).
    @inline(__always)
    func record(_ scratch: PredictionScratch, row: Int) {
        guard let monitor else { return }
        var score = Double.nan
        var classIndex = -1
        switch kind {
        case .regression:
            if row < scratch.values.count { score = scratch.values[row] }
        case .binary, .multiclass:
            if stringLabels {
                if row < scratch.labelIndices.count { classIndex = Int(scratch.labelIndices[row]) }
            } else if row < scratch.labelsInt.count {
                let label = scratch.labelsInt[row]
                for index in 0..<intLabels.count where intLabels[index] == label {
                    classIndex = index
                    break
                }
            }
            if kind == .binary {
                let cell = row * classCount + positiveClass
                if positiveClass >= 0 && cell < scratch.scores.count { score = Double(scratch.scores[cell]) }
            } else if row < scratch.confidence.count {
                score = Double(scratch.confidence[row])
            }
            if let confidence, row < scratch.confidence.count {
                let value = scratch.confidence[row]
                if value.isFinite && value >= 0 { confidence.record(UInt64(Double(value) * 1000)) }
            }
        }
        scratch.numeric.withUnsafeBufferPointer { numeric in
            monitor.record(
                numeric: numeric, stride: numericCount, strings: scratch.strings, row: row, score: score,
                classIndex: classIndex)
        }
    }

    /// Records a sample of a batch's rows: every `batchStride`-th row from a rotating offset.
    func recordBatch(_ scratch: PredictionScratch, rows: Int) {
        guard monitor != nil, rows > 0 else { return }
        var row = (batchOffset.wrappingAdd(1, ordering: .relaxed).oldValue & Int.max) % batchStride
        while row < rows {
            record(scratch, row: row)
            row += batchStride
        }
    }
}
