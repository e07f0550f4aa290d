internal import CProtobufC
internal import CSluiceProto
internal import CSluiceProtoSupport

/// `sluice.v1.DriftVerdict`.
public enum DriftVerdictInfo: UInt32, Sendable {
    case unspecified = 0
    case ok = 1
    case warn = 2
    case drift = 3
}

/// `sluice.v1.FeatureDrift`; NaN marks a statistic that does not apply or has no data yet.
public struct FeatureDriftInfo: Sendable, Equatable {
    public var name = ""
    public var kind = ""
    public var count: Int64 = 0
    public var psi = Double.nan
    public var ksStatistic = Double.nan
    public var ksPValue = Double.nan
    public var chiSquare = Double.nan
    public var chiSquarePValue = Double.nan
    public var missingShare = 0.0
    public var unseenShare = 0.0
    public var verdict = DriftVerdictInfo.unspecified

    public init() {}
}

/// `sluice.v1.PredictionDrift`.
public struct PredictionDriftInfo: Sendable, Equatable {
    public var kind = ""
    public var psi = Double.nan
    public var ksStatistic = Double.nan
    public var positiveRate = Double.nan
    public var referencePositiveRate = Double.nan
    public var positiveRateShift = Double.nan
    public var classShares: [Double] = []
    public var verdict = DriftVerdictInfo.unspecified

    public init() {}
}

/// `sluice.v1.MonitoringReport`.
public struct MonitoringInfo: Sendable, Equatable {
    public var profiled = false
    public var windowRequests: Int64 = 0
    public var windowLimitRequests: Int64 = 0
    public var windowLimitSeconds = 0.0
    public var referenceRows: Int64 = 0
    public var psiWarn = 0.0
    public var psiDrift = 0.0
    public var verdict = DriftVerdictInfo.unspecified
    public var features: [FeatureDriftInfo] = []
    public var prediction: PredictionDriftInfo?
    public var computedUnixMs: Int64 = 0
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
