#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The features a model takes, prepared for matching request field names as raw bytes.
///
/// Numeric features fill a row-major `Float` block in dense order; string features fill one
/// string column each. Built once per loaded version, immutable. A class, so that the hot path holds it with
/// one reference and reads its per-position arrays (`kinds`, `slots`, `acceptsNaN`, the packed names) without
/// copying a `Feature` and retaining its strings.
public final class FeatureTable: Sendable {
    /// Which buffer a feature's values go to: the numeric `Float` block or a string column.
    public enum Kind: Sendable, Equatable {
        /// Sent as a number; stored as `Float` in the row-major block.
        case numeric
        /// Sent as text; categorical, one string column per feature.
        case string
    }

    /// One feature of the signature, in the order the model declares them.
    public struct Feature: Sendable {
        /// The name requests use for this feature (after any registry renaming).
        public let name: String
        /// Whether the value is numeric or text.
        public let kind: Kind
        /// Index among numeric features (dense order) or among string features.
        public let slot: Int
        /// Whether NaN is an acceptable value (the model tracks missing values).
        public let acceptsNaN: Bool
    }

    /// Every feature in signature (dense) order; a position in this array is what ``position(of:)`` returns.
    public let features: [Feature]
    /// Per position: kind, slot and NaN acceptance of `features` (plain values for the per-call path).
    public let kinds: [Kind]
    /// Per position: the feature's index among its kind (numeric column or string column).
    public let slots: [Int]
    /// Per position: whether NaN (a missing numeric value) is accepted for the feature.
    public let acceptsNaN: [Bool]
    /// All names' UTF-8 bytes back to back; name `p` ends at `nameEnds[p]`.
    private let nameBlob: [UInt8]
    /// Exclusive end offset in `nameBlob` of each feature's name; name `p` starts where name `p - 1` ends.
    private let nameEnds: [Int]
    /// Number of numeric features: the width of one row of the dense block.
    public let numericCount: Int
    /// Number of string features: how many string columns a batch fills.
    public let stringCount: Int
    /// For more than a handful of features, a hash index by name; otherwise a linear scan is faster.
    private let index: [String: Int]?

    /// Assigns slots in declaration order and packs the names; builds the hash index only above 16 features. Runs once
    /// per loaded version, so its allocations are off the per-call path. Duplicate names resolve to the last one when
    /// indexed.
    public init(features: [(name: String, kind: Kind, acceptsNaN: Bool)]) {
        var built: [Feature] = []
        var numeric = 0
        var strings = 0
        for feature in features {
            let slot: Int
            switch feature.kind {
            case .numeric:
                slot = numeric
                numeric += 1
            case .string:
                slot = strings
                strings += 1
            }
            built.append(
                Feature(name: feature.name, kind: feature.kind, slot: slot, acceptsNaN: feature.acceptsNaN))
        }
        self.features = built
        kinds = built.map(\.kind)
        slots = built.map(\.slot)
        acceptsNaN = built.map(\.acceptsNaN)
        nameBlob = built.flatMap(\.name.utf8)
        var end = 0
        nameEnds = built.map { feature in
            end += feature.name.utf8.count
            return end
        }
        numericCount = numeric
        stringCount = strings
        if built.count > 16 {
            var table: [String: Int] = [:]
            for (position, feature) in built.enumerated() { table[feature.name] = position }
            index = table
        } else {
            index = nil
        }
    }

    /// The position in `features` of the feature named by these UTF-8 bytes.
    @inline(__always)
    public func position(of name: UnsafeRawBufferPointer) -> Int? {
        if let index { return index[String(decoding: name, as: UTF8.self)] }
        return nameBlob.withUnsafeBytes { blob -> Int? in
            nameEnds.withUnsafeBufferPointer { ends -> Int? in
                var start = 0
                for position in 0..<ends.count {
                    let end = ends[position]
                    if end - start == name.count,
                        name.isEmpty || memcmp(blob.baseAddress! + start, name.baseAddress!, name.count) == 0
                    {
                        return position
                    }
                    start = end
                }
                return nil
            }
        }
    }

    /// Dense order description for messages: `age, income, ...`.
    public var namesList: String { features.map(\.name).joined(separator: ", ") }
}
