import ArgumentParser
import FoundationEssentials
import InferenceService
import Monitoring
import SluiceServer

/// The `--monitor-*` flags of `sluice serve`: server-wide drift-monitoring defaults (model.json overrides the
/// window and bands per model; see docs/monitoring.md). The config file's `monitor*` keys set the same values;
/// flags override the file.
struct MonitoringFlags: ParsableArguments {
    /// Config key `monitoring` (`false`); `false` here means "not given", so the config file may still turn it off.
    @Flag(name: .customLong("no-monitoring"), help: "Turn drift monitoring off (no recording, no statistics).")
    var off = false
    /// Config key `monitorWindowRequests`; model.json may override it per model.
    @Option(name: .customLong("monitor-window-requests"), help: "Most requests in a version's drift window. (default: 10000)")
    var windowRequests: Int?
    /// Config key `monitorWindowSeconds`, in seconds; model.json may override it per model.
    @Option(name: .customLong("monitor-window-seconds"), help: "Oldest request in a drift window, in seconds. (default: 3600)")
    var windowSeconds: Double?
    /// Config key `monitorIntervalSeconds`: 0.05 to 3600 seconds.
    @Option(name: .customLong("monitor-interval"), help: "Seconds between drift statistics updates. (default: 10)")
    var interval: Double?
    /// Config key `monitorPsiWarn`; model.json may override it per model.
    @Option(name: .customLong("monitor-psi-warn"), help: "PSI at or above which a feature is WARN. (default: 0.1)")
    var psiWarn: Double?
    /// Config key `monitorPsiDrift`; when unset it is at least the warn band.
    @Option(name: .customLong("monitor-psi-drift"), help: "PSI at or above which a feature is DRIFT. (default: 0.25)")
    var psiDrift: Double?
    /// Config key `monitorMinRequests`; model.json may override it per model.
    @Option(name: .customLong("monitor-min-requests"), help: "Requests a window needs before a verdict other than OK. (default: 100)")
    var minRequests: Int?
    /// Config key `monitorMaxFeatures`: bounds the `sluice_feature_psi` series of one model; must not be negative.
    @Option(name: .customLong("monitor-max-features"), help: "Most sluice_feature_psi series per model. (default: 50)")
    var maxFeatures: Int?
    /// Config key `monitorBatchStride`: at least 1 (every row).
    @Option(name: .customLong("monitor-batch-stride"), help: "BatchPredict records every n-th row. (default: 64)")
    var batchStride: Int?
    /// Config key `monitorSnapshotSeconds`: 0 (only at shutdown) or 1 to 86400 seconds.
    @Option(
        name: .customLong("monitor-snapshot-interval"),
        help: "Seconds between snapshots of the drift windows, which a restart restores; 0: only at shutdown. (default: 60)")
    var snapshotSeconds: Double?

    /// Checks the flags alone (without the config file) at parse time, so a bad `--monitor-*` value fails before the
    /// server starts; ``ServeCommand/run()`` checks the merged settings again.
    func validate() throws {
        var flags = ServerConfiguration()
        apply(to: &flags)
        _ = try Self.configuration(from: flags)
    }

    /// Copies the flags that were given into `configuration` (the command line's layer over the config file).
    func apply(to configuration: inout ServerConfiguration) {
        configuration.monitoring = off ? false : nil
        configuration.monitorWindowRequests = windowRequests
        configuration.monitorWindowSeconds = windowSeconds
        configuration.monitorIntervalSeconds = interval
        configuration.monitorPsiWarn = psiWarn
        configuration.monitorPsiDrift = psiDrift
        configuration.monitorMinRequests = minRequests
        configuration.monitorMaxFeatures = maxFeatures
        configuration.monitorBatchStride = batchStride
        configuration.monitorSnapshotSeconds = snapshotSeconds
    }

    /// The hub configuration of the merged settings (config file under flags). Errors name the flag and the key.
    static func configuration(from settings: ServerConfiguration) throws -> MonitoringConfiguration {
        var configuration = MonitoringConfiguration()
        configuration.enabled = settings.monitoring ?? true
        configuration.defaults.windowRows = settings.monitorWindowRequests ?? configuration.defaults.windowRows
        configuration.defaults.windowSeconds = settings.monitorWindowSeconds ?? configuration.defaults.windowSeconds
        configuration.defaults.psiWarn = settings.monitorPsiWarn ?? configuration.defaults.psiWarn
        configuration.defaults.psiDrift =
            settings.monitorPsiDrift ?? max(configuration.defaults.psiDrift, configuration.defaults.psiWarn)
        configuration.defaults.minRows = settings.monitorMinRequests ?? configuration.defaults.minRows
        if let problem = configuration.defaults.problem {
            // "window_requests must be ..." -> "--monitor-window-requests (monitorWindowRequests) must be ..."
            let key = String(problem.prefix { $0 != " " })
            let flag = "--monitor-" + key.replacing("_", with: "-")
            let camel = "monitor" + key.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
            throw ValidationError("\(flag) (config key \"\(camel)\")" + problem.dropFirst(key.count)
                .replacing("psi_drift", with: "--monitor-psi-drift")
                .replacing("psi_warn", with: "--monitor-psi-warn"))
        }
        if let interval = settings.monitorIntervalSeconds {
            guard interval >= 0.05 && interval <= 3600 else {
                throw ValidationError("--monitor-interval (config key \"monitorIntervalSeconds\") must be between 0.05 and 3600 seconds")
            }
            configuration.intervalSeconds = interval
        }
        if let maxFeatures = settings.monitorMaxFeatures {
            guard maxFeatures >= 0 else {
                throw ValidationError("--monitor-max-features (config key \"monitorMaxFeatures\") must not be negative")
            }
            configuration.maxMetricFeatures = maxFeatures
        }
        if let batchStride = settings.monitorBatchStride {
            guard batchStride >= 1 else {
                throw ValidationError("--monitor-batch-stride (config key \"monitorBatchStride\") must be at least 1")
            }
            configuration.batchStride = batchStride
        }
        if let snapshot = settings.monitorSnapshotSeconds {
            guard snapshot == 0 || (snapshot >= 1 && snapshot <= 86_400) else {
                throw ValidationError("--monitor-snapshot-interval (config key \"monitorSnapshotSeconds\") must be 0 (only at shutdown) or between 1 and 86400 seconds")
            }
            configuration.snapshotSeconds = snapshot
        }
        return configuration
    }
}
