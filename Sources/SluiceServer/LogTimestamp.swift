import BackgroundThreads

#if canImport(Glibc)
    import Glibc
#endif

/// Timestamps of operator log lines: UTC, RFC 3339 with milliseconds (`2026-12-04T07:20:00.123Z`), read from
/// the shared ``WallClock``.
public enum LogTimestamp {
    /// The current time as log lines show it.
    public static func now() -> String { format(WallClock.now()) }

    /// `seconds` since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public static func format(_ seconds: Double) -> String {
        var whole = time_t(seconds.rounded(.down))
        let millis = min(999, Int32((seconds - Double(whole)) * 1000))
        var parts = tm()
        gmtime_r(&whole, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(millis, 3))Z"
    }
}
