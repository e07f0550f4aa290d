/// OK, WARN or DRIFT: where a PSI falls against the configured bands.
public enum DriftVerdict: String, Codable, Sendable, Comparable {
    case ok = "OK"
    case warn = "WARN"
    case drift = "DRIFT"

    /// The verdict of `psi` with the bands `warn` and `drift` (a PSI at or above a band is in it).
    public static func of(_ psi: Double?, warn: Double, drift: Double) -> DriftVerdict {
        guard let psi else { return .ok }
        return psi >= drift ? .drift : psi >= warn ? .warn : .ok
    }

    private var rank: Int { self == .ok ? 0 : self == .warn ? 1 : 2 }
    public static func < (lhs: DriftVerdict, rhs: DriftVerdict) -> Bool { lhs.rank < rhs.rank }
}

/// How a version is monitored: window limits and PSI bands.
public struct MonitorSettings: Sendable, Equatable, Codable {
    /// Most requests in the window.
    public var windowRows: Int = 10_000
    /// Oldest request in the window, in seconds.
    public var windowSeconds: Double = 3600
    /// PSI at or above which a feature is WARN.
    public var psiWarn: Double = 0.1
    /// PSI at or above which a feature is DRIFT.
    public var psiDrift: Double = 0.25
    /// Below this many requests in the window every verdict stays OK (too few to judge).
    public var minRows: Int = 100

    public init() {}

    enum CodingKeys: String, CodingKey {
        case windowRows = "window_requests"
        case windowSeconds = "window_seconds"
        case psiWarn = "psi_warn"
        case psiDrift = "psi_drift"
        case minRows = "min_requests"
    }

    /// Why these settings cannot be used, or nil.
    public var problem: String? {
        if windowRows < 10 { return "window_requests must be at least 10" }
        if !(windowSeconds >= 1) { return "window_seconds must be at least 1" }
        if !(psiWarn > 0 && psiDrift >= psiWarn) { return "psi_warn must be positive and psi_drift at least psi_warn" }
        if minRows < 1 { return "min_requests must be at least 1" }
        return nil
    }
}

/// The drift of one feature in the current window.
public struct FeatureDrift: Codable, Sendable, Equatable {
    public var name: String
    public var kind: FeatureProfile.Kind
    /// Values in the window (not missing).
    public var count: Int64
    public var psi: Double?
    public var ksStatistic: Double?
    public var ksPValue: Double?
    public var chiSquare: Double?
    public var chiSquarePValue: Double?
    /// Share of the window's requests where the feature was missing (NaN, or an empty string).
    public var missingShare: Double
    /// Share of the present values in categories the reference never saw (categorical).
    public var unseenShare: Double
    public var verdict: DriftVerdict

    enum CodingKeys: String, CodingKey {
        case name, kind, count, psi, verdict
        case ksStatistic = "ks_statistic"
        case ksPValue = "ks_p_value"
        case chiSquare = "chi_square"
        case chiSquarePValue = "chi_square_p_value"
        case missingShare = "missing_share"
        case unseenShare = "unseen_share"
    }
}

/// The drift of the predictions in the current window.
public struct PredictionDrift: Codable, Sendable, Equatable {
    public var kind: PredictionProfile.Kind
    /// PSI of the score distribution (positive-class probability, confidence or value).
    public var psi: Double?
    public var ksStatistic: Double?
    public var positiveRate: Double?
    public var referencePositiveRate: Double?
    /// `positiveRate - referencePositiveRate`.
    public var positiveRateShift: Double?
    /// Share of the window predicted as each class, in class order.
    public var classShares: [Double]
    public var verdict: DriftVerdict

    enum CodingKeys: String, CodingKey {
        case kind, psi, verdict
        case ksStatistic = "ks_statistic"
        case positiveRate = "positive_rate"
        case referencePositiveRate = "reference_positive_rate"
        case positiveRateShift = "positive_rate_shift"
        case classShares = "class_shares"
    }
}

/// What the monitor of one version reports: the window, each feature's statistics and the prediction drift.
public struct DriftReport: Codable, Sendable, Equatable {
    public var model: String
    public var version: Int64
    /// Milliseconds since the Unix epoch when it was computed.
    public var computedUnixMs: Int64
    /// Requests in the window.
    public var windowRows: Int64
    public var settings: MonitorSettings
    public var referenceRows: Int64
    /// The worst verdict of the features and the prediction.
    public var verdict: DriftVerdict
    public var features: [FeatureDrift]
    public var prediction: PredictionDrift?
    /// Profile features the model does not take, model features the profile lacks, or "collecting" notes.
    public var notes: [String]

    enum CodingKeys: String, CodingKey {
        case model, version, settings, verdict, features, prediction, notes
        case computedUnixMs = "computed_unix_ms"
        case windowRows = "window_requests"
        case referenceRows = "reference_rows"
    }
}
