import Monitoring
import SluiceProto

extension InferenceAPI {
    /// The `monitoring` section of GetModelVersion for a loaded version; nil when monitoring is off.
    func monitoringInfo(_ model: ServableModel) -> MonitoringInfo? {
        guard let monitoring = model.monitoring else { return nil }
        var info = MonitoringInfo()
        guard let monitor = monitoring.monitor else {
            info.notes = monitoring.note.map { [$0] } ?? []
            return info
        }
        info.profiled = true
        info.referenceRows = monitor.profile.rows
        info.windowLimitRequests = Int64(monitor.settings.windowRows)
        info.windowLimitSeconds = monitor.settings.windowSeconds
        info.psiWarn = monitor.settings.psiWarn
        info.psiDrift = monitor.settings.psiDrift
        guard let report = monitor.report else {
            info.verdict = .ok
            info.notes = ["no statistics yet (computed every few seconds)"]
            return info
        }
        info.windowRequests = report.windowRows
        info.verdict = Self.verdict(report.verdict)
        info.computedUnixMs = report.computedUnixMs
        info.notes = report.notes
        info.features = report.features.map { feature in
            var out = FeatureDriftInfo()
            out.name = feature.name
            out.kind = feature.kind.rawValue
            out.count = feature.count
            out.psi = feature.psi ?? .nan
            out.ksStatistic = feature.ksStatistic ?? .nan
            out.ksPValue = feature.ksPValue ?? .nan
            out.chiSquare = feature.chiSquare ?? .nan
            out.chiSquarePValue = feature.chiSquarePValue ?? .nan
            out.missingShare = feature.missingShare
            out.unseenShare = feature.unseenShare
            out.verdict = Self.verdict(feature.verdict)
            return out
        }
        if let prediction = report.prediction {
            var out = PredictionDriftInfo()
            out.kind = prediction.kind.rawValue
            out.psi = prediction.psi ?? .nan
            out.ksStatistic = prediction.ksStatistic ?? .nan
            out.positiveRate = prediction.positiveRate ?? .nan
            out.referencePositiveRate = prediction.referencePositiveRate ?? .nan
            out.positiveRateShift = prediction.positiveRateShift ?? .nan
            out.classShares = prediction.classShares
            out.verdict = Self.verdict(prediction.verdict)
            info.prediction = out
        }
        return info
    }

    /// Maps the monitor's drift verdict onto the wire enum of `MonitoringInfo`; the two enums are kept separate so the
    /// proto layer does not depend on the Monitoring module.
    static func verdict(_ verdict: DriftVerdict) -> DriftVerdictInfo {
        switch verdict {
        case .ok: return .ok
        case .warn: return .warn
        case .drift: return .drift
        }
    }
}
