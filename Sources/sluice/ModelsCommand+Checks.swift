import ArgumentParser
import FoundationEssentials
import ModelRegistry
import SluiceServer
import TextFormats

/// Checks the `models` subcommands run before they write: a registry only records what the server can serve.
enum RegistryChecks {
    /// Compiles `bytes` exactly as the server's loader would; throws a CLI error naming the file and the reason
    /// (the same reason the server would report for a FAILED version), unless `force` lets it through with a
    /// warning on stderr.
    static func requireServable(file: String, bytes: [UInt8], featureNames: [String]?, force: Bool) throws {
        do {
            _ = try ServingCheck.compile(bytes: bytes, featureNames: featureNames)
        } catch {
            let reason = "\(file): the server could not load this model: \(error)"
            guard force else {
                throw CLIError(
                    message: reason
                        + "\n(nothing was registered; --force registers it anyway, as a version that will fail to load)"
                )
            }
            warn("WARNING: --force: registering anyway; the server will report this version as FAILED: \(reason)")
        }
    }

    /// Refuses to make `version` of `model` served (Production, Staging, an alias) when it does not load,
    /// unless `force` is set, which warns loudly and goes ahead.
    static func requireLoadable(model: String, version: Int64, source: any ModelSource, action: String, force: Bool)
        throws
    {
        guard let reason = ServingCheck.failure(of: model, version: version, in: source) else { return }
        let message = "\(model) version \(version) does not load: \(reason)"
        guard force else {
            throw CLIError(
                message:
                    "refusing to \(action): \(message)\n(nothing was changed; fix or re-register the file, or pass --force to \(action) anyway)"
            )
        }
        warn("WARNING: --force: \(action) although \(message); the server keeps serving what it served before")
    }

    /// Feature names as given to `--feature-names` (comma-separated, trimmed).
    static func featureNames(_ text: String?) -> [String]? {
        text.map { $0.split(separator: ",").map { $0.trimmingSpaces() } }
    }

    /// Writes one line to stderr (warnings must not mix with the command's output on stdout).
    static func warn(_ text: String) {
        FileAccess.writeStandardError(text + "\n")
    }
}
