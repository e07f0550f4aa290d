import ArgumentParser
import Foundation
import InferenceService
import Monitoring

/// The `--monitor-*` flags of `sluice serve`: server-wide drift-monitoring defaults (model.json overrides the
/// window and bands per model; see docs/monitoring.md).
struct MonitoringFlags: ParsableArguments {
    @Flag(name: .customLong("no-monitoring"), help: "Turn drift monitoring off (no recording, no statistics).")
    var off = false
    @Option(name: .customLong("monitor-window-requests"), help: "Most requests in a version's drift window. (default: 10000)")
    var windowRequests: Int?
    @Option(name: .customLong("monitor-window-seconds"), help: "Oldest request in a drift window, in seconds. (default: 3600)")
    var windowSeconds: Double?
    @Option(name: .customLong("monitor-interval"), help: "Seconds between drift statistics updates. (default: 10)")
    var interval: Double?
    @Option(name: .customLong("monitor-max-features"), help: "Most sluice_feature_psi series per model. (default: 50)")
    var maxFeatures: Int?
    @Option(name: .customLong("monitor-batch-stride"), help: "BatchPredict records every n-th row. (default: 64)")
    var batchStride: Int?

    func validate() throws {
        _ = try configuration()
    }

    /// The hub configuration these flags describe.
    func configuration() throws -> MonitoringConfiguration {
        var configuration = MonitoringConfiguration()
        configuration.enabled = !off
        configuration.defaults.windowRows = windowRequests ?? configuration.defaults.windowRows
        configuration.defaults.windowSeconds = windowSeconds ?? configuration.defaults.windowSeconds
        if let problem = configuration.defaults.problem {
            throw ValidationError("--monitor-" + problem.replacingOccurrences(of: "_", with: "-"))
        }
        if let interval {
            guard interval >= 0.05 && interval <= 3600 else {
                throw ValidationError("--monitor-interval must be between 0.05 and 3600 seconds")
            }
            configuration.intervalSeconds = interval
        }
        if let maxFeatures {
            guard maxFeatures >= 0 else { throw ValidationError("--monitor-max-features must not be negative") }
            configuration.maxMetricFeatures = maxFeatures
        }
        if let batchStride {
            guard batchStride >= 1 else { throw ValidationError("--monitor-batch-stride must be at least 1") }
            configuration.batchStride = batchStride
        }
        return configuration
    }
}
