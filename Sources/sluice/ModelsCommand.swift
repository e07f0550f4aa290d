import ArgumentParser
import FoundationEssentials
import ModelRegistry
import Monitoring
import TextFormats

/// `sluice models ...`: manage a registry directory (the server picks changes up without a restart).
///
/// The subcommands write the registry directly (through ``RegistryOption/source()``), not through a server: the
/// directory source takes an exclusive lock and replaces `model.json` atomically, so that is safe while servers run.
/// Commands that make a version served (`register`, `promote`, `alias`, `fallback`) first check that it loads
/// (``RegistryChecks``); `--force` turns the refusal into a warning.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List, register, promote and alias model versions in a registry directory or in MLflow.",
        discussion: """
            The registry is a directory: <registry>/<model>/<version>/model.onnx plus <registry>/<model>/model.json, \
            or an MLflow tracking server: --registry mlflow+http://HOST:PORT (list, show, promote, alias and \
            batching work there; promote is a stage transition, alias sets or deletes an MLflow alias).
            A running `sluice serve --models <registry>` sees every change within a second or two.
            """,
        subcommands: [
            List.self, Register.self, Promote.self, Alias.self, Batching.self, Fallback.self, Show.self, Profile.self,
            Drift.self, MonitoringSettings.self,
        ]
    )
}

/// The `--registry` option shared by every `models` subcommand.
struct RegistryOption: ParsableArguments {
    /// `nil`: `$SLUICE_REGISTRY`, else `./registry` (relative to the working directory).
    @Option(
        name: .long,
        help: "Registry directory, or mlflow+http(s)://HOST:PORT (default: $SLUICE_REGISTRY or ./registry).")
    var registry: String?

    @Option(name: .customLong("mlflow-ca"), help: "PEM CA for mlflow+https (default: $MLFLOW_TRACKING_SERVER_CERT_PATH).")
    var mlflowCA: String?

    /// The registry to work on. An MLflow registry is read once up front (no cache: the CLI talks to MLflow).
    ///
    /// A directory is not checked here: a missing one surfaces as the first operation's ``RegistryError``.
    ///
    /// - Throws: ``RegistryError`` for a malformed MLflow URL or CA, or when the first sync with MLflow fails.
    func source() throws(RegistryError) -> any WritableModelSource {
        let location = registry ?? ProcessInfo.processInfo.environment["SLUICE_REGISTRY"] ?? "registry"
        guard MLflowEndpoint.isMLflowURL(location) else { return LocalDirectorySource(root: location) }
        let endpoint = try MLflowEndpoint(
            url: location, caFile: mlflowCA, environment: ProcessInfo.processInfo.environment)
        let source = MLflowSource(endpoint: endpoint, cacheDirectory: nil)
        try source.sync()
        return source
    }

    /// The registry as a local directory, for commands that work on its files (reference profiles, drift
    /// reports); an MLflow registry is refused with `what` named.
    func localSource(for what: String) throws -> LocalDirectorySource {
        let location = registry ?? ProcessInfo.processInfo.environment["SLUICE_REGISTRY"] ?? "registry"
        guard !MLflowEndpoint.isMLflowURL(location) else {
            throw CLIError(message: "\(what) works on a local registry directory, not \(location)")
        }
        return LocalDirectorySource(root: location)
    }
}

/// Turns registry errors into a clean CLI failure.
///
/// Only ``RegistryError`` is translated (to its message); other errors, such as ``CLIError`` or ArgumentParser's
/// `ValidationError`, pass through unchanged.
func runRegistryCommand(_ body: () throws -> Void) throws {
    do { try body() } catch let error as RegistryError {
        throw CLIError(message: error.message)
    }
}

/// A failure the CLI reports as its message alone (ArgumentParser prints it on stderr and exits 1).
///
/// Used by every subcommand for problems the user can fix: unreadable files, refused registry changes, gRPC failures
/// already phrased as `CODE: message`.
struct CLIError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

extension ModelsCommand {
    /// `list`: every model of the registry with its versions, stages, aliases and fallback, one version per line.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List models and their versions.")
        @OptionGroup var options: RegistryOption

        func run() throws {
            try runRegistryCommand {
                let source = try options.source()
                let models = try source.listModels()
                if models.isEmpty { print("no models in \(source.location)") }
                for name in models {
                    let metadata = try source.metadata(of: name)
                    print(name + (metadata.description.isEmpty ? "" : "  — \(metadata.description)"))
                    for version in metadata.versions {
                        var aliases = metadata.aliases(of: version.version).map { "@" + $0 }.joined(separator: " ")
                        if metadata.fallback == version.version { aliases += aliases.isEmpty ? "(fallback)" : " (fallback)" }
                        let line = "  v\(version.version)  \(version.stage.rawValue.padded(toLength: 10)) \(aliases)"
                        print(line.trimmingSpaces())
                    }
                }
            }
        }
    }

    /// `register`: adds a model file as the model's next version.
    ///
    /// The file is compiled first, as the server would load it
    /// (``RegistryChecks/requireServable(file:bytes:featureNames:force:)``), and `--profile-data` is profiled before
    /// anything is written, so a failure leaves no half-registered version.
    struct Register: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a model file as a new version.")
        @OptionGroup var options: RegistryOption
        @Option(help: "Model name ([A-Za-z0-9_.-]).") var name: String
        @Option(help: "Path of the .onnx file.") var file: String
        @Option(help: "Stage of the new version: None, Staging, Production, Archived.") var stage: String = "None"
        @Option(help: "Alias to point at the new version (repeatable).") var alias: [String] = []
        @Option(help: "Tag key=value (repeatable).") var tag: [String] = []
        @Option(help: "Training metric name=number (repeatable).") var metric: [String] = []
        @Option(help: "Free-text description.") var description: String = ""
        /// Recorded in the version's metadata; no file is read from it.
        @Option(help: "Where the model came from (run URI); default: the file's absolute path.") var source: String?
        /// Stored for the whole model (`feature_names` in model.json; a new value replaces the old one); the server
        /// and `models profile` name the features with it.
        @Option(
            name: .customLong("feature-names"),
            help: "Comma-separated names for the model's numeric columns in order (for inputs like X[N,4]).")
        var featureNames: String?
        @Flag(help: "Register even if the server could not load the file (prints a warning).") var force = false
        /// Profiled with the model before anything is registered (``ProfileMaker``); needs a registry that stores
        /// profiles.
        @Option(
            name: .customLong("profile-data"),
            help: "Training data (.csv or JSON Lines) to build the version's reference profile from (drift monitoring).")
        var profileData: String?

        /// Validates `--stage`, `--tag` and `--metric`, checks the file loads, then registers it (and its
        /// reference profile, when the registry can store one).
        func run() throws {
            guard let stage = Stage(parsing: stage) else {
                throw ValidationError("--stage must be one of None, Staging, Production, Archived")
            }
            let tags = try keyValues(tag, option: "--tag")
            var metrics: [String: Double] = [:]
            for (key, value) in try keyValues(metric, option: "--metric") {
                guard let number = Double(value) else { throw ValidationError("--metric \(key)=\(value): not a number") }
                metrics[key] = number
            }
            let data: [UInt8]
            do { data = try FileAccess.read(file) } catch { throw CLIError(message: error.description) }
            try RegistryChecks.requireServable(
                file: file, bytes: data, featureNames: RegistryChecks.featureNames(featureNames), force: force)
            let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
            let names = RegistryChecks.featureNames(featureNames)
            // Built before registering, so a bad data file leaves no half-registered version behind.
            let profile = try profileData.map {
                try ProfileMaker.build(modelBytes: data, featureNames: names, dataPath: $0)
            }
            try runRegistryCommand {
                let registry = try options.source()
                let version = try registry.register(
                    model: name, bytes: data, source: source ?? absolute, stage: stage, aliases: alias,
                    tags: tags, metrics: metrics, description: description, featureNames: names)
                if let profile {
                    guard let store = registry as? any ProfileStore else {
                        throw CLIError(message: "\(registry.location) cannot store reference profiles")
                    }
                    try store.writeProfile(profile.encoded(), model: name, version: version)
                }
                print("registered \(name) version \(version) (\(stage.rawValue))"
                    + (profile.map { ", profiled: \(ProfileMaker.summary($0))" } ?? ""))
            }
        }
    }

    /// `promote`: moves a version to a stage; Production and Staging need a version that loads unless `--force`.
    struct Promote: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a version to a stage (Production archives the previous Production version).")
        @OptionGroup var options: RegistryOption
        @Argument(help: "Model name.") var name: String
        @Argument(help: "Version number.") var version: Int64
        @Option(help: "Target stage: None, Staging, Production, Archived.") var stage: String
        /// Only matters for Production: without it the previous Production version moves to Archived.
        @Flag(help: "Keep the current Production version in Production.") var keepExisting = false
        @Flag(help: "Move it even if the version does not load (prints a warning).") var force = false

        func run() throws {
            guard let stage = Stage(parsing: stage) else {
                throw ValidationError("--stage must be one of None, Staging, Production, Archived")
            }
            try runRegistryCommand {
                let source = try options.source()
                if stage == .production || stage == .staging {
                    try RegistryChecks.requireLoadable(
                        model: name, version: version, source: source,
                        action: "move it to \(stage.rawValue)", force: force)
                }
                try source.transition(model: name, version: version, to: stage, archiveExisting: !keepExisting)
                print("\(name) version \(version) is now \(stage.rawValue)")
            }
        }
    }

    /// `alias`: points `@alias` at a version (which must load unless `--force`), or removes it with `--delete`.
    struct Alias: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Point an alias at a version, or delete it.")
        @OptionGroup var options: RegistryOption
        @Argument(help: "Model name.") var name: String
        @Argument(help: "Alias ([a-z0-9_-]+).") var alias: String
        @Argument(help: "Version number (omit with --delete).") var version: Int64?
        @Flag(help: "Remove the alias.") var delete = false
        @Flag(help: "Point the alias even if the version does not load (prints a warning).") var force = false

        func run() throws {
            if delete == (version != nil) {
                throw ValidationError("give a version, or --delete to remove the alias")
            }
            try runRegistryCommand {
                let source = try options.source()
                if let version {
                    try RegistryChecks.requireLoadable(
                        model: name, version: version, source: source, action: "point @\(alias) at it",
                        force: force)
                }
                try source.setAlias(model: name, alias: alias, version: delete ? nil : version)
                print(delete ? "removed @\(alias) from \(name)" : "\(name)@\(alias) -> version \(version!)")
            }
        }
    }

    /// `batching`: stores a model's dynamic-batching settings in model.json (`--max-queue-delay-us` in microseconds,
    /// 0...1000000), or removes them with `--off`.
    struct Batching: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn dynamic batching of concurrent Predict calls on or off for a model.",
            discussion: "Calls wait up to --max-queue-delay-us for others, then run as one batch of at most --max-batch-size rows.")
        @OptionGroup var options: RegistryOption
        @Argument(help: "Model name.") var name: String
        @Option(name: .customLong("max-batch-size"), help: "Rows per batch (2 or more).") var maxBatchSize: Int?
        /// In microseconds, 0...1,000,000; stored only together with `--max-batch-size`.
        @Option(name: .customLong("max-queue-delay-us"), help: "Longest wait for a batch to fill, in microseconds.")
        var maxQueueDelayMicros: Int = 500
        @Flag(help: "Turn batching off.") var off = false

        func run() throws {
            if off == (maxBatchSize != nil) { throw ValidationError("give --max-batch-size N, or --off") }
            if let maxBatchSize, maxBatchSize < 2 { throw ValidationError("--max-batch-size must be at least 2") }
            guard (0...1_000_000).contains(maxQueueDelayMicros) else {
                throw ValidationError("--max-queue-delay-us must be between 0 and 1000000")
            }
            try runRegistryCommand {
                _ = try options.source().updateMetadata(of: name) { metadata in
                    metadata.batching = maxBatchSize.map {
                        BatchingOptions(maxBatchSize: $0, maxQueueDelayMicros: maxQueueDelayMicros)
                    }
                }
                print(off ? "\(name): batching off"
                    : "\(name): batches of up to \(maxBatchSize!) rows, waiting at most \(maxQueueDelayMicros) µs")
            }
        }
    }

    /// `fallback`: names the model's fallback version in model.json (it must exist, and load unless `--force`), or
    /// clears it.
    struct Fallback: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Name the version that answers when the chosen one fails, or clear it.",
            discussion: """
                The fallback version is kept loaded. It answers routed and production calls (variant `fallback`) \
                when the Production version failed to load, and when the chosen version (Production or a rollout \
                arm) fails at run time for a reason that is not the client's. Explicit versions, aliases and \
                staging calls never fall back. See docs/routing.md.
                """)
        @OptionGroup var options: RegistryOption
        @Argument(help: "Model name.") var name: String
        @Argument(help: "Version number (omit with --clear).") var version: Int64?
        @Flag(help: "Remove the model's fallback.") var clear = false
        @Flag(help: "Name the version even if it does not load (prints a warning).") var force = false

        func run() throws {
            if clear == (version != nil) { throw ValidationError("give a version, or --clear to remove the fallback") }
            try runRegistryCommand {
                let source = try options.source()
                if let version {
                    try RegistryChecks.requireLoadable(
                        model: name, version: version, source: source, action: "make it the fallback", force: force)
                }
                _ = try source.updateMetadata(of: name) { (metadata: inout ModelMetadata) throws(RegistryError) in
                    if let version, metadata.version(version) == nil {
                        throw RegistryError(.notFound, "model \"\(name)\" has no version \(version)")
                    }
                    metadata.fallback = version
                }
                print(version.map { "\(name): fallback -> version \($0)" } ?? "\(name): no fallback")
            }
        }
    }

    /// `show`: prints the model's metadata (model.json as the registry holds it) as JSON.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a model's metadata as JSON.")
        @OptionGroup var options: RegistryOption
        @Argument(help: "Model name.") var name: String

        func run() throws {
            try runRegistryCommand {
                let metadata = try options.source().metadata(of: name)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(metadata), as: UTF8.self))
            }
        }
    }
}

/// Parses repeated `KEY=VALUE` options (the value may contain `=`; a later key replaces an earlier one).
///
/// - Throws: `ValidationError` naming `option` for an item without `=` or with an empty key.
func keyValues(_ items: [String], option: String) throws -> [String: String] {
    var result: [String: String] = [:]
    for item in items {
        guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
            throw ValidationError("\(option) \(item): expected key=value")
        }
        result[String(item[..<equals])] = String(item[item.index(after: equals)...])
    }
    return result
}
