internal import CProtobufC
internal import CSluiceProto
internal import CSluiceProtoSupport

/// `sluice.v1.DriftVerdict`.
public enum DriftVerdictInfo: UInt32, Sendable {
    /// Not set: the proto3 default, also what a version without monitoring reports.
    case unspecified = 0
    /// No statistic crossed its warning threshold.
    case ok = 1
    /// At least one statistic crossed the warning threshold (e.g. PSI at or above `psiWarn`) but none the drift
    /// threshold.
    case warn = 2
    /// At least one statistic crossed the drift threshold (e.g. PSI at or above `psiDrift`).
    case drift = 3
}

/// `sluice.v1.FeatureDrift`; NaN marks a statistic that does not apply or has no data yet.
public struct FeatureDriftInfo: Sendable, Equatable {
    /// The feature's name as the model signature lists it.
    public var name = ""
    /// "numeric" or "categorical"; decides which of the KS and chi-square statistics are filled in.
    public var kind = ""
    /// Values in the window for this feature, not counting missing ones.
    public var count: Int64 = 0
    /// Population stability index of this feature's window distribution against the reference profile.
    public var psi = Double.nan
    public var ksStatistic = Double.nan
    public var ksPValue = Double.nan
    public var chiSquare = Double.nan
    public var chiSquarePValue = Double.nan
    /// Share (0...1) of the window's requests where the feature was missing (NaN, or an empty string).
    public var missingShare = 0.0
    /// Share (0...1) of the present values in categories the reference profile never saw; 0 for numeric features.
    public var unseenShare = 0.0
    /// This feature's verdict from its statistics against the thresholds.
    public var verdict = DriftVerdictInfo.unspecified

    public init() {}
}

/// `sluice.v1.PredictionDrift`.
public struct PredictionDriftInfo: Sendable, Equatable {
    /// "binary" (score: positive-class probability), "multiclass" (score: confidence) or "regression" (value).
    public var kind = ""
    /// PSI of the score distribution against the reference profile; NaN when not applicable or without data.
    public var psi = Double.nan
    public var ksStatistic = Double.nan
    public var positiveRate = Double.nan
    public var referencePositiveRate = Double.nan
    /// `positiveRate - referencePositiveRate`; NaN unless both are known (binary models only).
    public var positiveRateShift = Double.nan
    /// Share of the window predicted as each class, in class-label order; empty for regressors.
    public var classShares: [Double] = []
    /// The prediction's verdict from its statistics against the thresholds.
    public var verdict = DriftVerdictInfo.unspecified

    public init() {}
}

/// `sluice.v1.MonitoringReport`.
public struct MonitoringInfo: Sendable, Equatable {
    /// False when the version has no usable reference profile; `notes` then says why and no statistics follow.
    public var profiled = false
    /// Requests (rows) in the current window.
    public var windowRequests: Int64 = 0
    /// The window's row limit: older rows leave the window once it holds this many.
    public var windowLimitRequests: Int64 = 0
    /// The window's age limit in seconds.
    public var windowLimitSeconds = 0.0
    /// Rows the reference profile was built from.
    public var referenceRows: Int64 = 0
    /// PSI at or above which a statistic counts as `warn`.
    public var psiWarn = 0.0
    /// PSI at or above which a statistic counts as `drift`; at least `psiWarn`.
    public var psiDrift = 0.0
    /// The worst verdict of the features and the prediction.
    public var verdict = DriftVerdictInfo.unspecified
    public var features: [FeatureDriftInfo] = []
    public var prediction: PredictionDriftInfo?
    /// When the statistics were computed, in milliseconds since the Unix epoch; 0 before the first computation.
    public var computedUnixMs: Int64 = 0
    /// Human-readable remarks, e.g. why the version is not profiled or that no statistics exist yet.
    public var notes: [String] = []

    public init() {}
}

extension GetModelVersionResponse {
    /// Builds the `monitoring` section of a `ModelVersion` in the arena.
    static func build(_ info: MonitoringInfo, _ arena: ArenaBuilder) -> UnsafeMutablePointer<Sluice__V1__MonitoringReport> {
        let message = arena.allocate(Sluice__V1__MonitoringReport.self, count: 1)
        sluice__v1__monitoring_report__init(message)
        message.pointee.profiled = info.profiled ? 1 : 0
        message.pointee.window_requests = info.windowRequests
        message.pointee.window_limit_requests = info.windowLimitRequests
        message.pointee.window_limit_seconds = info.windowLimitSeconds
        message.pointee.reference_rows = info.referenceRows
        message.pointee.psi_warn = info.psiWarn
        message.pointee.psi_drift = info.psiDrift
        message.pointee.verdict = Sluice__V1__DriftVerdict(rawValue: info.verdict.rawValue)
        message.pointee.computed_unix_ms = info.computedUnixMs
        let features = arena.allocate(UnsafeMutablePointer<Sluice__V1__FeatureDrift>?.self, count: info.features.count)
        for (index, feature) in info.features.enumerated() {
            let entry = arena.allocate(Sluice__V1__FeatureDrift.self, count: 1)
            sluice__v1__feature_drift__init(entry)
            entry.pointee.name = arena.string(feature.name)
            entry.pointee.kind = arena.string(feature.kind)
            entry.pointee.count = feature.count
            entry.pointee.psi = feature.psi
            entry.pointee.ks_statistic = feature.ksStatistic
            entry.pointee.ks_p_value = feature.ksPValue
            entry.pointee.chi_square = feature.chiSquare
            entry.pointee.chi_square_p_value = feature.chiSquarePValue
            entry.pointee.missing_share = feature.missingShare
            entry.pointee.unseen_share = feature.unseenShare
            entry.pointee.verdict = Sluice__V1__DriftVerdict(rawValue: feature.verdict.rawValue)
            features[index] = entry
        }
        message.pointee.n_features = info.features.count
        message.pointee.features = features
        if let prediction = info.prediction {
            let entry = arena.allocate(Sluice__V1__PredictionDrift.self, count: 1)
            sluice__v1__prediction_drift__init(entry)
            entry.pointee.kind = arena.string(prediction.kind)
            entry.pointee.psi = prediction.psi
            entry.pointee.ks_statistic = prediction.ksStatistic
            entry.pointee.positive_rate = prediction.positiveRate
            entry.pointee.reference_positive_rate = prediction.referencePositiveRate
            entry.pointee.positive_rate_shift = prediction.positiveRateShift
            entry.pointee.n_class_shares = prediction.classShares.count
            entry.pointee.class_shares = arena.array(prediction.classShares)
            entry.pointee.verdict = Sluice__V1__DriftVerdict(rawValue: prediction.verdict.rawValue)
            message.pointee.prediction = entry
        }
        message.pointee.n_notes = info.notes.count
        message.pointee.notes = arena.strings(info.notes)
        return message
    }
}
