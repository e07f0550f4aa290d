#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// The parts of MLflow's REST API 2.0 responses the model source reads. Every field is optional on the wire
// (protobuf JSON omits defaults), so each one decodes with a default.

/// `{"key": ..., "value": ...}` (tags).
struct MLflowTag: Decodable, Equatable {
    /// The tag name; required on the wire.
    var key: String
    /// The tag value; "" when MLflow omits it.
    var value: String
    /// A tag built in code (tests, request bodies) rather than decoded.
    init(key: String, value: String) {
        self.key = key
        self.value = value
    }
    /// Decodes a tag; a missing `value` becomes "" rather than an error.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(String.self, forKey: .key)
        value = try container.decodeIfPresent(String.self, forKey: .value) ?? ""
    }
    enum CodingKeys: String, CodingKey { case key, value }
}

/// `{"alias": ..., "version": "3"}`.
struct MLflowAlias: Decodable, Equatable {
    /// The alias name, without `@`.
    var alias: String
    /// The version it points at, as MLflow sends it: a decimal string.
    var version: String
}

/// A registered model (`registered-models/search`).
struct MLflowRegisteredModel: Decodable, Equatable {
    /// The registered model name; required.
    var name: String
    /// Free-text description; "" when absent.
    var description: String
    /// Registered-model tags; the `sluice.` ones carry serving settings (``MLflowTags``).
    var tags: [MLflowTag]
    /// Every alias of the model (MLflow 2.3+); the versions' own `aliases` fields are not needed.
    var aliases: [MLflowAlias]

    enum CodingKeys: String, CodingKey { case name, description, tags, aliases }
    /// Decodes the model; only `name` is required, the rest default to empty.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        description = try container.decodeIfPresent(String.self, forKey: .description) ?? ""
        tags = try container.decodeIfPresent([MLflowTag].self, forKey: .tags) ?? []
        aliases = try container.decodeIfPresent([MLflowAlias].self, forKey: .aliases) ?? []
    }
}

/// A model version (`model-versions/search`). MLflow sends version numbers as strings.
struct MLflowModelVersion: Decodable, Equatable {
    /// The registered model this version belongs to.
    var name: String
    /// The version number, as a decimal string.
    var version: String
    /// Milliseconds since the Unix epoch.
    var creationTimestamp: Int64
    /// `None`, `Staging`, `Production` or `Archived` (stages are deprecated in MLflow 3 but still set and read).
    var currentStage: String
    /// Free-text description of this version; "" when absent.
    var description: String
    /// Where the files are: `models:/m-…` (an MLflow 3 logged model), `runs:/RUN/PATH` or an artifact URI.
    var source: String
    /// The run that produced it (its metrics are the version's metrics).
    var runId: String
    /// `READY` once registration finished (`PENDING_REGISTRATION`, `FAILED_REGISTRATION` otherwise).
    var status: String
    /// Version tags (as opposed to the registered model's tags).
    var tags: [MLflowTag]

    enum CodingKeys: String, CodingKey {
        case name, version, description, source, status, tags
        case creationTimestamp = "creation_timestamp"
        case currentStage = "current_stage"
        case runId = "run_id"
    }
    /// Decodes a version; `name` and `version` are required. A missing stage reads as `None` and a missing status
    /// as `READY`, matching protobuf JSON's omission of defaults.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        version = try container.decode(String.self, forKey: .version)
        creationTimestamp = Self.int64(container, .creationTimestamp)
        currentStage = try container.decodeIfPresent(String.self, forKey: .currentStage) ?? "None"
        description = try container.decodeIfPresent(String.self, forKey: .description) ?? ""
        source = try container.decodeIfPresent(String.self, forKey: .source) ?? ""
        runId = try container.decodeIfPresent(String.self, forKey: .runId) ?? ""
        status = try container.decodeIfPresent(String.self, forKey: .status) ?? "READY"
        tags = try container.decodeIfPresent([MLflowTag].self, forKey: .tags) ?? []
    }

    /// int64 fields arrive as numbers or, from some proxies, as strings.
    static func int64(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) -> Int64 {
        if let number = try? container.decodeIfPresent(Int64.self, forKey: key) { return number }
        if let text = try? container.decodeIfPresent(String.self, forKey: key) { return Int64(text) ?? 0 }
        return 0
    }
}

/// One page of `registered-models/search`.
struct MLflowRegisteredModelsPage: Decodable {
    /// The models on this page; empty when the field is omitted.
    var registeredModels: [MLflowRegisteredModel]
    /// Pass back as `page_token` for the next page; nil or absent on the last page.
    var nextPageToken: String?
    enum CodingKeys: String, CodingKey {
        case registeredModels = "registered_models"
        case nextPageToken = "next_page_token"
    }
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        registeredModels = try container.decodeIfPresent([MLflowRegisteredModel].self, forKey: .registeredModels) ?? []
        nextPageToken = try container.decodeIfPresent(String.self, forKey: .nextPageToken)
    }
}

/// One page of `model-versions/search`.
struct MLflowModelVersionsPage: Decodable {
    /// The versions on this page; empty when the field is omitted.
    var modelVersions: [MLflowModelVersion]
    /// Pass back as `page_token` for the next page; nil or absent on the last page.
    var nextPageToken: String?
    enum CodingKeys: String, CodingKey {
        case modelVersions = "model_versions"
        case nextPageToken = "next_page_token"
    }
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        modelVersions = try container.decodeIfPresent([MLflowModelVersion].self, forKey: .modelVersions) ?? []
        nextPageToken = try container.decodeIfPresent(String.self, forKey: .nextPageToken)
    }
}

/// `runs/get`: the run's artifact root and its metrics (latest value per key).
struct MLflowRunResponse: Decodable {
    struct Run: Decodable {
        struct Info: Decodable {
            var artifactUri: String?
            enum CodingKeys: String, CodingKey { case artifactUri = "artifact_uri" }
        }
        struct Metric: Decodable {
            var key: String
            var value: Double?
        }
        struct DataBlock: Decodable {
            var metrics: [Metric]?
        }
        var info: Info
        var data: DataBlock?
    }
    var run: Run
}

/// `logged-models/get` (MLflow 3): where a logged model's files are.
struct MLflowLoggedModelResponse: Decodable {
    struct Model: Decodable {
        struct Info: Decodable {
            var artifactUri: String?
            enum CodingKeys: String, CodingKey { case artifactUri = "artifact_uri" }
        }
        var info: Info
    }
    var model: Model
}

/// `model-versions/get-download-uri`.
struct MLflowDownloadURIResponse: Decodable {
    var artifactUri: String?
    enum CodingKeys: String, CodingKey { case artifactUri = "artifact_uri" }
}

/// The `flavors` section of an MLmodel file (YAML), read without a YAML library: MLmodel files are written by
/// MLflow in a fixed block style (`flavors:` at column 0, two-space indented flavor names and their keys).
struct MLmodelFile: Equatable {
    /// Flavor name → its scalar settings (`onnx` → `data: model.onnx`, `onnx_version: …`).
    var flavors: [String: [String: String]]

    init(flavors: [String: [String: String]]) { self.flavors = flavors }

    init(parsing text: String) {
        var flavors: [String: [String: String]] = [:]
        var inFlavors = false
        var flavorIndent = -1
        var keyIndent = -1
        var current: String?
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw[...]
            if line.trimmedSpaces.isEmpty || line.trimmedSpaces.hasPrefix("#") {
                continue
            }
            let indent = line.prefix { $0 == " " }.count
            let content = line.dropFirst(indent)
            if indent == 0 {
                inFlavors = content.hasPrefix("flavors:")
                flavorIndent = -1
                current = nil
                continue
            }
            guard inFlavors, let colon = content.firstIndex(of: ":") else { continue }
            let key = content[..<colon].trimmedSpaces
            var value = content[content.index(after: colon)...].trimmedSpaces
            if value.count >= 2,
                (value.hasPrefix("'") && value.hasSuffix("'")) || (value.hasPrefix("\"") && value.hasSuffix("\""))
            {
                value = String(value.dropFirst().dropLast())
            }
            if flavorIndent < 0 { flavorIndent = indent }
            if indent == flavorIndent {
                current = key
                keyIndent = -1
                flavors[key, default: [:]] = flavors[key] ?? [:]
            } else if let current, indent > flavorIndent {
                if keyIndent < 0 { keyIndent = indent }
                // Only the flavor's own (first-level) scalar keys; deeper blocks are ignored.
                if indent == keyIndent && !value.isEmpty { flavors[current]?[key] = value }
            }
        }
        self.flavors = flavors
    }

    /// The ONNX file's path relative to the MLmodel directory, or nil when there is no `onnx` flavor.
    var onnxDataPath: String? {
        guard let onnx = flavors["onnx"] else { return nil }
        return onnx["data"] ?? "model.onnx"
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmedSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
