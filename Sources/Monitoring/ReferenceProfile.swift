#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The reference distribution of a version's training data, stored beside the model as `profile.json`.
///
/// Numeric features keep quantile bin edges and the reference count of every bin; categorical features keep
/// category frequencies; the prediction keeps the distribution of its score and of the predicted classes.
/// Bins are right-closed: a value `v` falls into the first bin `i` with `v <= edges[i]`, or into the last bin
/// (`edges.count`) when it is above every edge. NaN (numeric) and the empty string (categorical) are missing.
public struct ReferenceProfile: Codable, Sendable, Equatable {
    /// The layout version of `profile.json`.
    public static let currentFormat = 1

    public var format: Int
    /// Rows the profile was built from.
    public var rows: Int64
    public var features: [FeatureProfile]
    /// The distribution of the model's own predictions on the profiled rows.
    public var prediction: PredictionProfile?
    /// Milliseconds since the Unix epoch.
    public var createdUnixMs: Int64
    /// Where the rows came from (a file path).
    public var source: String

    public init(
        rows: Int64, features: [FeatureProfile], prediction: PredictionProfile?, createdUnixMs: Int64 = 0,
        source: String = ""
    ) {
        format = Self.currentFormat
        self.rows = rows
        self.features = features
        self.prediction = prediction
        self.createdUnixMs = createdUnixMs
        self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case format, rows, features, prediction, source
        case createdUnixMs = "created_unix_ms"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        format = try container.decode(Int.self, forKey: .format)
        rows = try container.decode(Int64.self, forKey: .rows)
        features = try container.decode([FeatureProfile].self, forKey: .features)
        prediction = try container.decodeIfPresent(PredictionProfile.self, forKey: .prediction)
        createdUnixMs = try container.decodeIfPresent(Int64.self, forKey: .createdUnixMs) ?? 0
        source = try container.decodeIfPresent(String.self, forKey: .source) ?? ""
    }

    /// Decodes and validates `profile.json` bytes.
    public static func decode(_ bytes: [UInt8]) throws(ProfileError) -> ReferenceProfile {
        let profile: ReferenceProfile
        do { profile = try JSONDecoder().decode(ReferenceProfile.self, from: Data(bytes)) } catch {
            throw ProfileError("profile.json is not a valid profile: \(error)")
        }
        try profile.validate()
        return profile
    }

    /// The profile as pretty-printed, key-sorted JSON.
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Encoding plain numbers and strings cannot fail; an empty file would fail validation on load.
        return (try? Array(encoder.encode(self))) ?? []
    }

    /// Checks the invariants the live bins rely on (sorted edges, one count per bin, unique categories).
    public func validate() throws(ProfileError) {
        guard format == Self.currentFormat else {
            throw ProfileError("profile.json has format \(format); this server reads format \(Self.currentFormat)")
        }
        guard rows > 0 else { throw ProfileError("profile.json has no rows") }
        var names = Set<String>()
        for feature in features {
            guard names.insert(feature.name).inserted else {
                throw ProfileError("profile.json lists feature \"\(feature.name)\" twice")
            }
            try feature.validate()
        }
        if let prediction {
            try prediction.score.validate()
            guard prediction.classCounts.count == prediction.classes.count else {
                throw ProfileError("profile.json prediction: \(prediction.classes.count) classes but \(prediction.classCounts.count) counts")
            }
        }
    }
}

/// The reference distribution of one feature (or of the prediction score).
public struct FeatureProfile: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case numeric
        case categorical
    }

    public var name: String
    public var kind: Kind
    /// Numeric: the upper edges of the fine bins (quantiles, strictly increasing).
    public var edges: [Double]
    /// Numeric: reference count per fine bin (`edges.count + 1`).
    public var counts: [Int64]
    /// Numeric: the coarser edges PSI is computed on (deciles; a subset of `edges`).
    public var psiEdges: [Double]
    /// Categorical: the categories seen in the reference, most frequent first.
    public var categories: [String]
    /// Categorical: reference count per category.
    public var categoryCounts: [Int64]
    /// Categorical: reference rows whose category was dropped beyond the cap (counted like unseen ones).
    public var otherCount: Int64
    /// Reference rows where the value was missing.
    public var missing: Int64

    public init(
        name: String, kind: Kind, edges: [Double] = [], counts: [Int64] = [], psiEdges: [Double] = [],
        categories: [String] = [], categoryCounts: [Int64] = [], otherCount: Int64 = 0, missing: Int64 = 0
    ) {
        self.name = name
        self.kind = kind
        self.edges = edges
        self.counts = counts
        self.psiEdges = psiEdges
        self.categories = categories
        self.categoryCounts = categoryCounts
        self.otherCount = otherCount
        self.missing = missing
    }

    enum CodingKeys: String, CodingKey {
        case name, kind, edges, counts, categories, missing
        case psiEdges = "psi_edges"
        case categoryCounts = "category_counts"
        case otherCount = "other_count"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        kind = try container.decode(Kind.self, forKey: .kind)
        edges = try container.decodeIfPresent([Double].self, forKey: .edges) ?? []
        counts = try container.decodeIfPresent([Int64].self, forKey: .counts) ?? []
        psiEdges = try container.decodeIfPresent([Double].self, forKey: .psiEdges) ?? []
        categories = try container.decodeIfPresent([String].self, forKey: .categories) ?? []
        categoryCounts = try container.decodeIfPresent([Int64].self, forKey: .categoryCounts) ?? []
        otherCount = try container.decodeIfPresent(Int64.self, forKey: .otherCount) ?? 0
        missing = try container.decodeIfPresent(Int64.self, forKey: .missing) ?? 0
    }

    /// Reference rows with a value (not missing).
    public var present: Int64 {
        kind == .numeric ? counts.reduce(0, +) : categoryCounts.reduce(0, +) + otherCount
    }

    func validate() throws(ProfileError) {
        switch kind {
        case .numeric:
            guard counts.count == edges.count + 1 else {
                throw ProfileError("profile.json feature \"\(name)\": \(edges.count) edges need \(edges.count + 1) counts, got \(counts.count)")
            }
            for index in edges.indices {
                guard edges[index].isFinite, index == 0 || edges[index - 1] < edges[index] else {
                    throw ProfileError("profile.json feature \"\(name)\": edges must be finite and strictly increasing")
                }
            }
            let known = Set(edges)
            guard psiEdges.allSatisfy(known.contains), psiEdges == psiEdges.sorted() else {
                throw ProfileError("profile.json feature \"\(name)\": psi_edges must be sorted and among the edges")
            }
        case .categorical:
            guard categoryCounts.count == categories.count, Set(categories).count == categories.count else {
                throw ProfileError("profile.json feature \"\(name)\": categories must be unique, one count each")
            }
        }
        guard counts.allSatisfy({ $0 >= 0 }), categoryCounts.allSatisfy({ $0 >= 0 }), missing >= 0, otherCount >= 0
        else { throw ProfileError("profile.json feature \"\(name)\": counts must not be negative") }
    }
}

/// The reference distribution of a version's predictions.
public struct PredictionProfile: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// Two classes: the score is the positive class's probability.
        case binary
        /// More classes: the score is the confidence (largest class score).
        case multiclass
        /// The score is the predicted value.
        case regression
    }

    public var kind: Kind
    /// The score distribution (a numeric profile named "score").
    public var score: FeatureProfile
    /// Class labels as text, in the model's class order (empty for regressors).
    public var classes: [String]
    /// Reference count of each predicted class.
    public var classCounts: [Int64]
    /// Index of the positive class (binary classifiers).
    public var positiveClass: Int?

    public init(kind: Kind, score: FeatureProfile, classes: [String], classCounts: [Int64], positiveClass: Int?) {
        self.kind = kind
        self.score = score
        self.classes = classes
        self.classCounts = classCounts
        self.positiveClass = positiveClass
    }

    enum CodingKeys: String, CodingKey {
        case kind, score, classes
        case classCounts = "class_counts"
        case positiveClass = "positive_class"
    }

    /// Share of reference rows predicted as the positive class.
    public var positiveRate: Double? {
        guard let positiveClass, classCounts.indices.contains(positiveClass) else { return nil }
        let total = classCounts.reduce(0, +)
        return total > 0 ? Double(classCounts[positiveClass]) / Double(total) : nil
    }

    /// The positive class of a binary classifier: label 1 (or "1", "true", "yes", "positive"), else the second.
    public static func positiveClass(intLabels labels: [Int64]) -> Int? {
        labels.count == 2 ? labels.firstIndex(of: 1) ?? 1 : nil
    }

    /// The positive class of a binary classifier with string labels.
    public static func positiveClass(stringLabels labels: [String]) -> Int? {
        guard labels.count == 2 else { return nil }
        return labels.firstIndex { ["1", "true", "yes", "positive"].contains($0.lowercased()) } ?? 1
    }
}

/// A profile that cannot be built or read; the message says what to fix.
public struct ProfileError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
