import FoundationEssentials
import Logging
import TextFormats
import SluiceServer

#if canImport(Glibc)
    import Glibc
#endif

/// The server's operator log: every line the server writes goes through swift-log to ``StderrLogHandler``, which
/// stamps it with the time, the level and the component, as text or as one JSON object per line.
///
/// The server's layers hand their lines over as plain `component: text` strings (the `log` closures they are
/// built with); ``emit(_:)`` takes the component from that prefix and the level from the wording, so that the
/// layers stay free of a logging dependency.
enum OperatorLog {
    /// How lines are written.
    enum Format: String, CaseIterable {
        /// `2026-12-04T07:20:00.123Z info  registry: loaded churn version 1 in 12.3 ms`
        case text
        /// `{"ts":"2026-12-04T07:20:00.123Z","level":"info","component":"registry","msg":"loaded ..."}`
        case json
    }

    /// Installs the handler for every `Logger` of this process. Call once, before logging.
    static func bootstrap(format: Format) {
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, format: format) }
    }

    /// Components that a `component: text` prefix may name; anything else is logged as `server`.
    static let components: Set<String> = ["registry", "rollouts", "auth", "admin", "audit", "tls"]

    /// Loggers per component, made once (a `Logger` is a value; reading the dictionary needs no lock).
    private static let loggers: [String: Logger] = {
        var out: [String: Logger] = [:]
        for name in components.union(["server"]) { out[name] = Logger(label: name) }
        return out
    }()

    /// Logs one line of operator output (`sluice: ...`, `registry: ...`, ...).
    ///
    /// Callable from any thread: the logger table is immutable and the handler writes each line with one `write(2)`.
    static func emit(_ line: String) {
        let (component, text) = split(line)
        (loggers[component] ?? Logger(label: component)).log(level: level(of: text), "\(text)")
    }

    /// The component a line names and the rest of it: `registry: loaded ...` → (`registry`, `loaded ...`);
    /// `sluice: ...` and unprefixed lines belong to `server`.
    static func split(_ line: String) -> (component: String, text: String) {
        guard let colon = line.firstIndex(of: ":") else { return ("server", line) }
        let prefix = String(line[..<colon])
        let rest = line[line.index(after: colon)...].drop(while: { $0 == " " })
        if prefix == "sluice" { return ("server", String(rest)) }
        if components.contains(prefix) { return (prefix, String(rest)) }
        return ("server", line)
    }

    /// The level a line's wording implies: failures are errors, refusals to apply a change are warnings.
    static func level(of text: String) -> Logger.Level {
        if text.hasPrefix("error") || text.contains("FAILED") { return .error }
        if text.contains("WARNING") || text.contains("NOT reloaded") || text.contains("cannot ")
            || text.contains("keeping the current") || text.contains("calls were cut")
            || text.contains("closing connections now")
        {
            return .warning
        }
        return .info
    }
}

/// A swift-log handler writing one line per message to standard error with a single `write(2)` (lines from
/// different threads never interleave).
struct StderrLogHandler: LogHandler {
    /// The logger's label, which ``OperatorLog`` sets to the component name (`registry`, `server`, ...).
    let label: String
    let format: OperatorLog.Format
    /// Messages below this level (`debug`, `trace`) are dropped by swift-log before they reach the handler.
    var logLevel: Logger.Level = .info
    /// Stored as swift-log requires, but not rendered: the operator log has no metadata fields.
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Renders the event with the current UTC time and writes it with one `write(2)`; a failed write is ignored
    /// (there is nowhere left to report it).
    func log(event: LogEvent) {
        var text = Self.render(
            time: LogTimestamp.now(), level: event.level, component: label, message: event.message.description,
            format: format)
        text += "\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// One rendered line (without the newline).
    static func render(
        time: String, level: Logger.Level, component: String, message: String, format: OperatorLog.Format
    )
        -> String
    {
        switch format {
        case .text:
            let name = level.rawValue
            return "\(time) \(name)\(String(repeating: " ", count: max(1, 8 - name.count)))\(component): \(message)"
        case .json:
            return
                "{\"ts\":\"\(time)\",\"level\":\"\(level.rawValue)\",\"component\":\(jsonString(component)),\"msg\":\(jsonString(message))}"
        }
    }

    /// A JSON string literal.
    static func jsonString(_ text: String) -> String { JSONText.quoted(text) }
}
