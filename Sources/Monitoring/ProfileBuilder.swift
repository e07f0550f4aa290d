/// Builds reference profiles from columns of training data.
///
/// Numeric features get up to ``fineBins`` quantile bins (the KS statistic is evaluated at their edges) and
/// the deciles among them for PSI; categorical features keep up to ``maxCategories`` categories. Quantiles are
/// order statistics: the edge for quantile `k/bins` is `sorted[(k * (n - 1)) / bins]` (integer division), so
/// every decile edge is also a fine edge. Duplicate edges (ties) are merged.
public enum ProfileBuilder {
    /// Fine bins per numeric feature (KS resolution).
    public static let fineBins = 50
    /// Bins PSI is computed on.
    public static let psiBins = 10
    /// Categories kept per categorical feature; rarer ones count as "other".
    public static let maxCategories = 100

    /// The profile of a numeric column; NaN is missing.
    public static func numeric(name: String, values: [Double]) -> FeatureProfile {
        let present = values.filter { !$0.isNaN }.sorted()
        let edges = quantileEdges(sorted: present, bins: fineBins)
        var counts = Array(repeating: Int64(0), count: edges.count + 1)
        for value in present { counts[bin(of: value, edges: edges)] += 1 }
        return FeatureProfile(
            name: name, kind: .numeric, edges: edges, counts: counts,
            psiEdges: quantileEdges(sorted: present, bins: psiBins),
            missing: Int64(values.count - present.count))
    }

    /// The profile of a categorical column; the empty string is missing.
    public static func categorical(name: String, values: [String]) -> FeatureProfile {
        var frequencies: [String: Int64] = [:]
        var missing: Int64 = 0
        for value in values {
            if value.isEmpty { missing += 1 } else { frequencies[value, default: 0] += 1 }
        }
        let ranked = frequencies.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        let kept = ranked.prefix(maxCategories)
        return FeatureProfile(
            name: name, kind: .categorical, categories: kept.map(\.key), categoryCounts: kept.map(\.value),
            otherCount: ranked.dropFirst(maxCategories).reduce(0) { $0 + $1.value }, missing: missing)
    }

    /// Quantile edges of sorted, finite values: `sorted[(k * (n - 1)) / bins]` for k in 1..<bins, deduplicated.
    public static func quantileEdges(sorted: [Double], bins: Int) -> [Double] {
        guard !sorted.isEmpty, bins > 1 else { return [] }
        var edges: [Double] = []
        for k in 1..<bins {
            let value = sorted[(k * (sorted.count - 1)) / bins]
            if value.isFinite, edges.last.map({ $0 < value }) ?? true { edges.append(value) }
        }
        return edges
    }

    /// The right-closed bin of `value`: the first `i` with `value <= edges[i]`, else `edges.count`.
    @inline(__always)
    public static func bin(of value: Double, edges: [Double]) -> Int {
        var low = 0
        var high = edges.count
        while low < high {
            let middle = (low + high) >> 1
            if value <= edges[middle] { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// The profile of a model's predictions: `scores` are positive-class probabilities (binary), confidences
    /// (multiclass) or predicted values (regression); `classIndices` the predicted class per row.
    public static func prediction(
        kind: PredictionProfile.Kind, scores: [Double], classes: [String], classIndices: [Int], positiveClass: Int?
    ) -> PredictionProfile {
        var classCounts = Array(repeating: Int64(0), count: classes.count)
        for index in classIndices where classCounts.indices.contains(index) { classCounts[index] += 1 }
        return PredictionProfile(
            kind: kind, score: numeric(name: "score", values: scores), classes: classes, classCounts: classCounts,
            positiveClass: positiveClass)
    }
}
