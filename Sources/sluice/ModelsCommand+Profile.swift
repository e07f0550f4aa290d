import ArgumentParser
import DurableFiles
import FoundationEssentials
import InferenceEngine
import ModelRegistry
import Monitoring
import TextFormats

extension ModelsCommand {
    /// `sluice models profile`: builds a version's reference profile from training data.
    struct Profile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a version's reference profile (profile.json) from training data, for drift monitoring.",
            discussion: """
                Reads CSV (header row) or JSON Lines with one column per model feature, scores the rows with the \
                model offline, and writes <registry>/<model>/<version>/profile.json: quantile bins per numeric \
                feature, category frequencies per string feature, and the distribution of the predictions. \
                Parquet: convert first (docs/monitoring.md). A running server picks the profile up when the \
                version (re)loads. Without a registry (for MLflow, which keeps the profile as an artifact): \
                sluice models profile --model-file model.onnx --data FILE --output profile.json
                """)
        @OptionGroup var options: RegistryOption
        @Argument(help: "Model name (not with --model-file).") var name: String?
        @Option(help: "Version (default: the newest).") var version: Int64?
        /// Every feature of the model needs a column; the whole file is read into memory.
        @Option(help: "Training data: .csv with a header row, or JSON Lines (one object per row).") var data: String
        @Option(
            name: .customLong("model-file"),
            help: "Profile this ONNX file instead of a registered version (with --output).")
        var modelFile: String?
        @Option(help: "With --model-file: where to write profile.json.") var output: String?
        @Option(
            name: .customLong("feature-names"),
            help: "With --model-file: the feature names, comma-separated (a model with one numeric input tensor).")
        var featureNames: String?

        /// Enforces the two modes: a registered version (model name, optional `--version`) whose profile goes into the
        /// registry, or an unregistered `--model-file` whose profile goes to `--output`; the options of one mode are
        /// rejected in the other.
        func validate() throws {
            if modelFile != nil {
                guard output != nil else { throw ValidationError("--model-file needs --output (where to write profile.json)") }
                guard name == nil, version == nil else {
                    throw ValidationError("give a model name (a registered version) or --model-file, not both")
                }
            } else {
                guard name != nil else { throw ValidationError("give a model name, or --model-file with --output") }
                guard output == nil, featureNames == nil else {
                    throw ValidationError("--output and --feature-names go with --model-file")
                }
            }
        }

        /// Builds the profile and writes it: atomically to `--output` for `--model-file`, otherwise beside the version
        /// in the local registry (the newest version when `--version` is absent).
        ///
        /// An MLflow registry location is refused with the steps to follow instead: MLflow keeps the profile as an
        /// artifact of the model, which this command does not upload.
        ///
        /// - Throws: ``CLIError`` when the model, the data or the registry cannot be read, or the profile cannot be
        ///   written.
        func run() throws {
            if let modelFile, let output {
                let bytes: [UInt8]
                do { bytes = try FileAccess.read(modelFile) } catch { throw CLIError(message: error.description) }
                let profile = try ProfileMaker.build(
                    modelBytes: bytes, featureNames: RegistryChecks.featureNames(featureNames), dataPath: data)
                do { try AtomicFile.write(profile.encoded(), to: output) } catch {
                    throw CLIError(message: "cannot write \(output): \(error.description)")
                }
                print("profiled \(modelFile): \(ProfileMaker.summary(profile)) -> \(output)")
                return
            }
            let name = name ?? ""
            let location = options.registry ?? ProcessInfo.processInfo.environment["SLUICE_REGISTRY"] ?? "registry"
            if MLflowEndpoint.isMLflowURL(location) {
                throw CLIError(
                    message: "MLflow keeps a version's profile as an artifact beside its MLmodel file: build it with "
                        + "`sluice models profile --model-file model.onnx --data FILE --output profile.json` and log it "
                        + "with mlflow.MlflowClient().log_model_artifact(model_id, \"profile.json\") before registering "
                        + "(docs/mlflow.md)")
            }
            try runRegistryCommand {
                let source = try options.localSource(for: "sluice models profile")
                let metadata = try source.metadata(of: name)
                guard let number = version ?? metadata.versions.last?.version else {
                    throw CLIError(message: "model \"\(name)\" has no versions")
                }
                guard metadata.version(number) != nil else {
                    throw CLIError(message: "model \"\(name)\" has no version \(number)")
                }
                let bytes = try source.modelBytes(model: name, version: number)
                let profile = try ProfileMaker.build(modelBytes: bytes, featureNames: metadata.featureNames, dataPath: data)
                try source.writeProfile(profile.encoded(), model: name, version: number)
                print("profiled \(name) version \(number): \(ProfileMaker.summary(profile)) -> \(source.profilePath(model: name, version: number))")
            }
        }
    }

    /// `sluice models drift`: the server's latest drift reports of a model's versions.
    struct Drift: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the live drift of a model's versions against their reference profiles.",
            discussion: """
                Reads the reports a running `sluice serve --models <registry>` writes to \
                <registry>/.monitoring/<model>/<version>.json when a recomputed report changed (every 10 s \
                at most, by default). The same figures are in GetModelVersion's `monitoring` section and on /metrics.
                """)
        @OptionGroup var options: RegistryOption
        @Argument(help: "Model name.") var name: String
        @Option(help: "Only this version.") var version: Int64?
        @Flag(help: "Print the reports as JSON.") var json = false

        /// Prints the latest drift report of each version (or of `--version`) from `<registry>/.monitoring/<model>/`.
        ///
        /// Reports are written by a running server, so this reads files and needs no connection. For a registry
        /// directory the registered versions are listed; for an MLflow source's cache directory the saved report files
        /// are.
        ///
        /// - Throws: ``CLIError`` when no report exists (with how to get one) or a report file cannot be decoded.
        func run() throws {
            try runRegistryCommand {
                let source = try options.localSource(for: "sluice models drift")
                try VersionSelector.validateModelName(name)
                // A registry directory lists its versions; an MLflow source's --cache-dir has only the reports.
                let registered: [Int64]?
                do {
                    registered = try source.metadata(of: name).versions.map(\.version)
                } catch let error as RegistryError where error.code == .notFound {
                    registered = nil
                }
                let saved = ((try? FileManager.default.contentsOfDirectory(atPath: "\(source.root)/.monitoring/\(name)")) ?? [])
                    .compactMap { $0.hasSuffix(".json") && !$0.hasSuffix(".window.json") ? Int64($0.dropLast(5)) : nil }
                    .sorted()
                let versions = version.map { [$0] } ?? registered ?? saved
                var reports: [DriftReport] = []
                for number in versions {
                    guard let bytes = try source.monitoringState(model: name, version: number) else { continue }
                    do { reports.append(try DriftReport.decode(bytes)) } catch {
                        throw CLIError(message: "\(source.monitoringStatePath(model: name, version: number)): \(error)")
                    }
                }
                guard !reports.isEmpty else {
                    let which = version.map { "version \($0) of " } ?? ""
                    throw CLIError(message: """
                        no drift report for \(which)\(name) in \(source.root)/.monitoring: reports are written by a \
                        running `sluice serve --models \(source.root)` for loaded versions that have a profile \
                        (sluice models profile \(name) --data FILE)
                        """)
                }
                if json {
                    let text = reports.map { String(decoding: $0.encoded(), as: UTF8.self) }.joined(separator: ",\n")
                    print(reports.count == 1 ? text : "[\n\(text)\n]")
                } else {
                    for report in reports { print(DriftTable.render(report, now: Date().timeIntervalSince1970)) }
                }
            }
        }
    }

    /// `sluice models monitoring`: a model's window and PSI bands in model.json.
    struct MonitoringSettings: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "monitoring",
            abstract: "Set a model's drift-monitoring window and PSI bands (model.json), or turn it off.",
            discussion: "Unset values take the server's defaults (10,000 requests, 3600 s, PSI 0.1 warn, 0.25 drift).")
        @OptionGroup var options: RegistryOption
        @Argument(help: "Model name.") var name: String
        /// Like the other settings: `nil` keeps what model.json has (or the server default when it has nothing).
        @Option(name: .customLong("window-requests"), help: "Most requests in a window.") var windowRequests: Int?
        @Option(name: .customLong("window-seconds"), help: "Oldest request in a window, in seconds.") var windowSeconds: Double?
        @Option(name: .customLong("psi-warn"), help: "PSI at or above which a feature is WARN.") var psiWarn: Double?
        @Option(name: .customLong("psi-drift"), help: "PSI at or above which a feature is DRIFT.") var psiDrift: Double?
        @Option(name: .customLong("min-requests"), help: "Requests a window needs before a verdict other than OK.")
        var minRequests: Int?
        /// Stored as `enabled: false`; a later call without `--off` sets `enabled` back to unset (the server's
        /// setting).
        @Flag(help: "Turn monitoring off for this model.") var off = false
        @Flag(help: "Remove the model's settings (server defaults apply).") var clear = false

        /// Checks the window and PSI bands as the server would (unset values take the server defaults, and the drift
        /// band is at least the warn band), and rejects `--off` with `--clear`.
        func validate() throws {
            var settings = MonitorSettings()
            settings.windowRows = windowRequests ?? settings.windowRows
            settings.windowSeconds = windowSeconds ?? settings.windowSeconds
            settings.psiWarn = psiWarn ?? settings.psiWarn
            settings.psiDrift = psiDrift ?? max(settings.psiDrift, settings.psiWarn)
            settings.minRows = minRequests ?? settings.minRows
            if let problem = settings.problem { throw ValidationError(problem.replacing("_", with: "-")) }
            if off && clear { throw ValidationError("give --off or --clear, not both") }
        }

        /// Updates the `monitoring` settings of the model's model.json in one registry write and prints the result;
        /// given values replace the stored ones, others stay. A running server applies them when a version loads.
        func run() throws {
            try runRegistryCommand {
                let metadata = try options.source().updateMetadata(of: name) { metadata in
                    if clear {
                        metadata.monitoring = nil
                        return
                    }
                    var monitoring = metadata.monitoring ?? MonitoringOptions()
                    monitoring.windowRequests = windowRequests ?? monitoring.windowRequests
                    monitoring.windowSeconds = windowSeconds ?? monitoring.windowSeconds
                    monitoring.psiWarn = psiWarn ?? monitoring.psiWarn
                    monitoring.psiDrift = psiDrift ?? monitoring.psiDrift
                    monitoring.minRequests = minRequests ?? monitoring.minRequests
                    monitoring.enabled = off ? false : nil
                    metadata.monitoring = monitoring
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                let text = metadata.monitoring.flatMap { try? encoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) }
                print("\(name): monitoring \(text ?? "uses the server defaults") (applies when a version loads)")
            }
        }
    }
}

/// Builds a reference profile offline: reads the data, scores it with the engine, bins features and predictions.
///
/// Used by `models profile` and `models register --profile-data`; the binning itself is ``ProfileBuilder``'s, in
/// the Monitoring target, which also holds the server's drift statistics.
enum ProfileMaker {
    /// Rows scored per engine call.
    static let chunk = 4096

    /// Loads the model, reads the data file (any format ``TabularFile`` reads), profiles each input feature of the
    /// model's signature (categorical for string inputs, numeric otherwise) and the model's predictions.
    ///
    /// - Parameters:
    ///   - featureNames: Names for the model's inputs when the ONNX file has none of its own (from model.json).
    ///   - dataPath: The training data; its `source` in the profile is the standardized absolute path.
    /// - Throws: ``CLIError`` naming the file for an unreadable or empty file, a model that does not load, a missing
    ///   column or a failed scoring chunk.
    static func build(modelBytes: [UInt8], featureNames: [String]?, dataPath: String) throws -> ReferenceProfile {
        guard let data = FileManager.default.contents(atPath: dataPath) else {
            throw CLIError(message: "cannot read \(dataPath)")
        }
        let compiled: CompiledModel
        do { compiled = try CompiledModel(bytes: modelBytes, featureNames: featureNames) } catch {
            throw CLIError(message: "the model cannot be loaded: \(error.message)")
        }
        do {
            let table = try TabularFile(bytes: Array(data))
            guard table.rows > 0 else { throw CLIError(message: "\(dataPath) holds no rows") }
            let signature = compiled.signature
            var numericColumns: [[Double]] = []
            var stringColumns: [[String]] = []
            var features: [FeatureProfile] = []
            for feature in signature.features {
                if feature.kind == .string {
                    let values = try table.strings(feature.name)
                    stringColumns.append(values)
                    features.append(ProfileBuilder.categorical(name: feature.name, values: values))
                } else {
                    let values = try table.numbers(feature.name)
                    numericColumns.append(values)
                    features.append(ProfileBuilder.numeric(name: feature.name, values: values))
                }
            }
            let prediction = try predict(compiled, rows: table.rows, numeric: numericColumns, strings: stringColumns)
            return ReferenceProfile(
                rows: Int64(table.rows), features: features, prediction: prediction,
                createdUnixMs: Int64(Date().timeIntervalSince1970 * 1000),
                source: URL(fileURLWithPath: dataPath).standardizedFileURL.path)
        } catch let error as ProfileError {
            throw CLIError(message: "\(dataPath): \(error.message)")
        }
    }

    /// Scores every row and profiles the scores and predicted classes.
    ///
    /// Rows go through the engine ``chunk`` at a time (columns in `numeric`/`strings` follow the signature's order).
    /// The profiled score is the regression output, the positive class's score of a binary classifier, or the
    /// winning class's confidence of a multiclass one. Returns `nil` for a classifier without class labels.
    static func predict(
        _ compiled: CompiledModel, rows: Int, numeric: [[Double]], strings: [[String]]
    ) throws -> PredictionProfile? {
        let signature = compiled.signature
        let isRegressor = signature.task == .regressor
        let classes: [String]
        let intLabels: [Int64]
        var positive: Int?
        switch signature.classLabels {
        case .int64(let values):
            classes = values.map { String($0) }
            intLabels = values
            positive = PredictionProfile.positiveClass(intLabels: values)
        case .string(let values):
            classes = values
            intLabels = []
            positive = PredictionProfile.positiveClass(stringLabels: values)
        case .none:
            classes = []
            intLabels = []
        }
        guard isRegressor || !classes.isEmpty else { return nil }
        let kind: PredictionProfile.Kind = isRegressor ? .regression : classes.count == 2 ? .binary : .multiclass
        if kind != .binary { positive = nil }
        let context = compiled.makeContext()
        let result = PredictionResult()
        var scores: [Double] = []
        var classIndices: [Int] = []
        scores.reserveCapacity(rows)
        var start = 0
        while start < rows {
            let count = min(chunk, rows - start)
            var block = [Float](repeating: 0, count: count * numeric.count)
            for row in 0..<count {
                for column in numeric.indices { block[row * numeric.count + column] = Float(numeric[column][start + row]) }
            }
            let stringBlock = strings.map { Array($0[start..<(start + count)]) }
            do {
                try compiled.predict(rows: count, numeric: block, strings: stringBlock, context: context, into: result)
            } catch {
                throw CLIError(message: "scoring rows \(start + 1)–\(start + count) failed: \(error.message)")
            }
            let columns = max(1, result.scoreColumns)
            for row in 0..<count {
                switch kind {
                case .regression:
                    scores.append(Double(result.scores[row * columns]))
                case .binary, .multiclass:
                    let index: Int
                    if intLabels.isEmpty {
                        index = row < result.labelIndices.count ? Int(result.labelIndices[row]) : -1
                    } else {
                        index = row < result.labels.count ? intLabels.firstIndex(of: result.labels[row]) ?? -1 : -1
                    }
                    classIndices.append(index)
                    if kind == .binary, let positive {
                        scores.append(Double(result.scores[row * columns + positive]))
                    } else {
                        scores.append(Double(result.confidences[row]))
                    }
                }
            }
            start += count
        }
        return ProfileBuilder.prediction(
            kind: kind, scores: scores, classes: classes, classIndices: classIndices, positiveClass: positive)
    }

    /// One line for the command's output: rows, feature counts by kind and the prediction kind.
    static func summary(_ profile: ReferenceProfile) -> String {
        let numeric = profile.features.filter { $0.kind == .numeric }.count
        let categorical = profile.features.count - numeric
        return "\(profile.rows) rows, \(numeric) numeric and \(categorical) categorical features"
            + (profile.prediction.map { ", \($0.kind.rawValue) predictions" } ?? "")
    }
}

/// The text view of `sluice models drift`.
///
/// Table columns: `psi`, `ks`/`ks_p` (Kolmogorov-Smirnov statistic and p-value), `chi2`/`chi2_p` (chi-square and
/// p-value), and the `missing` and `unseen` shares of the window.
enum DriftTable {
    /// Renders one version's report: a header line (verdict, window, PSI bands, age), a table with a row per feature
    /// and one for the predictions, the positive-rate shift of a binary classifier, then the report's notes.
    ///
    /// - Parameter now: The current time in Unix seconds, for the report's age.
    static func render(_ report: DriftReport, now: Double) -> String {
        func number(_ value: Double?, _ digits: Int = 4) -> String {
            guard let value, value.isFinite else { return "-" }
            return CFormat.string("%.\(digits)f", value)
        }
        func percent(_ value: Double) -> String { CFormat.string("%.1f%%", value * 100) }
        let age = max(0, now - Double(report.computedUnixMs) / 1000)
        var lines = [
            "\(report.model) version \(report.version): \(report.verdict.rawValue)  window \(report.windowRows) of at most \(report.settings.windowRows) requests, \(Int(report.settings.windowSeconds)) s; reference \(report.referenceRows) rows; PSI bands \(report.settings.psiWarn)/\(report.settings.psiDrift); computed \(Int(age)) s ago"
        ]
        let header = ["feature", "kind", "count", "psi", "ks", "ks_p", "chi2", "chi2_p", "missing", "unseen", "verdict"]
        var rows = [header]
        for feature in report.features {
            rows.append([
                feature.name, feature.kind.rawValue, String(feature.count), number(feature.psi),
                number(feature.ksStatistic), number(feature.ksPValue), number(feature.chiSquare, 2),
                number(feature.chiSquarePValue), percent(feature.missingShare), percent(feature.unseenShare),
                feature.verdict.rawValue,
            ])
        }
        if let prediction = report.prediction {
            rows.append([
                "(prediction)", prediction.kind.rawValue, "", number(prediction.psi), number(prediction.ksStatistic),
                "", "", "", "", "", prediction.verdict.rawValue,
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            lines.append("  " + row.enumerated().map { $1.padded(toLength: widths[$0]) }
                .joined(separator: "  ").trimmingSpaces())
        }
        if let prediction = report.prediction, let rate = prediction.positiveRate {
            lines.append("  positive rate \(percent(rate)) (reference \(prediction.referencePositiveRate.map(percent) ?? "-"), shift \(number(prediction.positiveRateShift.map { $0 * 100 }, 1)) points)")
        }
        for note in report.notes { lines.append("  note: \(note)") }
        return lines.joined(separator: "\n")
    }
}
