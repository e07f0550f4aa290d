import DurableFiles
import ServerMetrics

#if canImport(Glibc)
    import Glibc
#endif

/// The build this binary is, for `sluice_build_info`.
public enum BuildInfo {
    /// The release this source tree is (the one `sluice --version` prints).
    public static var version: String { VersionReport.sluice }
}

/// Process metrics under the standard Prometheus client names (`process_*`), read from `/proc` at scrape time,
/// and `sluice_build_info`.
enum ProcessMetrics {
    static func register(in registry: MetricsRegistry) {
        registry.collector(
            "sluice_build_info", help: "Always 1; the labels name the build.", kind: .gauge
        ) { [(["version": BuildInfo.version], 1)] }
        registry.collector(
            "process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.", kind: .counter
        ) {
            guard let fields = statFields(), fields.count > 14, let user = Double(fields[13]),
                let system = Double(fields[14])
            else { return [] }
            return [([:], (user + system) / ticksPerSecond)]
        }
        registry.collector(
            "process_resident_memory_bytes", help: "Resident memory size in bytes.", kind: .gauge
        ) {
            guard let text = readText("/proc/self/statm"), let pages = text.split(separator: " ").dropFirst().first,
                let resident = Double(pages)
            else { return [] }
            return [([:], resident * Double(sysconf(Int32(_SC_PAGESIZE))))]
        }
        registry.collector("process_open_fds", help: "Number of open file descriptors.", kind: .gauge) {
            guard let entries = AtomicFile.entries("/proc/self/fd") else { return [] }
            return [([:], Double(max(0, entries.count - 1)))]  // without the descriptor reading the directory
        }
        registry.collector("process_max_fds", help: "Maximum number of open file descriptors.", kind: .gauge) {
            var limit = rlimit()
            guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return [] }
            return [([:], Double(limit.rlim_cur))]
        }
        let start = startTimeSeconds()
        registry.collector(
            "process_start_time_seconds", help: "Start time of the process since unix epoch in seconds.", kind: .gauge
        ) { start.map { [([:], $0)] } ?? [] }
    }

    static var ticksPerSecond: Double { Double(sysconf(Int32(_SC_CLK_TCK))) }

    /// The fields of `/proc/self/stat`, index i holding field i+1 of proc(5) (the command name, which may hold
    /// spaces, is skipped and left empty).
    static func statFields() -> [Substring]? {
        guard let text = readText("/proc/self/stat"), let close = text.lastIndex(of: ")") else { return nil }
        return ["", ""] + text[text.index(after: close)...].split(separator: " ")
    }

    /// Boot time (`btime` of `/proc/stat`) plus the process's start in ticks since boot.
    static func startTimeSeconds() -> Double? {
        guard let fields = statFields(), fields.count > 21, let ticks = Double(fields[21]),
            let stat = readText("/proc/stat"),
            let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
            let boot = Double(line.dropFirst(6).trimmingPrefix(while: { $0 == " " }))
        else { return nil }
        return boot + ticks / ticksPerSecond
    }

    static func readText(_ path: String) -> String? {
        guard let bytes = try? AtomicFile.read(path) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
