public import ONNXFormat

/// What a loaded model takes and returns; the server validates requests against it and reports it.
///
/// Which output is which (`labelOutput`, `scoreOutput`, `task`):
/// - the first graph output that is an int64 or string tensor of rank ≤ 1 (or [N, 1]) is the label, and its
///   presence makes the model a classifier;
/// - the first float/double tensor output (or a ZipMap `seq(map)` output) is the score output: class scores of a
///   classifier (probabilities as the converter emits them; for ZipMap the scores are read from the ZipMap's input,
///   in `classLabels` order), or the value(s) of a regressor;
/// - class labels come from the ZipMap, else from the last TreeEnsembleClassifier / LinearClassifier, else from the
///   constant class list an ArrayFeatureExtractor indexes (skl2onnx MLPs), else 0..<columns.
public struct ModelSignature: Sendable, Equatable {
    /// A graph input or output.
    public struct Value: Sendable, Equatable {
        /// Name of the value in the graph; requests feed inputs by this name.
        public var name: String
        /// Declared ONNX type, for example `tensor(float)` or `seq(map(int64,tensor(float)))`.
        public var type: String
        /// Element type of a tensor (nil for sequences and maps).
        public var elementType: ONNXDataType?
        /// Shape; nil entries are dynamic dimensions (usually the batch). Nil when the rank is unknown.
        public var shape: [Int?]?
    }

    /// How the model is used.
    public enum Task: String, Sendable, Equatable {
        /// The model has a label output; scores, when present, are per class.
        case classifier
        /// The model has no label output; its first float or double output holds the values.
        case regressor
    }

    /// Class labels in the order of the probability columns.
    public enum ClassLabels: Sendable, Equatable {
        /// No labels known (regressors, or a classifier without scores).
        case none
        /// Integer class labels.
        case int64([Int64])
        /// String class labels.
        case string([String])

        /// Number of labels.
        public var count: Int {
            switch self {
            case .none: return 0
            case .int64(let v): return v.count
            case .string(let v): return v.count
            }
        }
    }

    /// One column of the dense feature layout the fast prediction path takes.
    public struct Feature: Sendable, Equatable {
        /// Which part of the dense layout the feature lives in: the float block or the string columns.
        public enum Kind: String, Sendable, Equatable {
            /// A column of the float block.
            case numeric
            /// A string column.
            case string
        }

        /// Feature name: the input's name, `input[c]` for a column of a wider input, or the name given at load.
        public var name: String
        public var kind: Kind
        /// Index into `inputs`.
        public var inputIndex: Int
        /// Column inside that input.
        public var column: Int
        /// Position among the features of the same kind (index into the numeric block or the string columns).
        public var position: Int
    }

    /// Graph inputs, in graph order.
    public var inputs: [Value]
    /// Graph outputs, in graph order.
    public var outputs: [Value]
    /// Classifier or regressor, decided by whether there is a label output.
    public var task: Task
    /// Class labels of a classifier, in score-column order (`.none` for regressors).
    public var classLabels: ClassLabels
    /// Features in dense order: graph inputs in order, each input's columns in order.
    public var features: [Feature]
    /// Floats per row in the numeric block that ``CompiledModel/predict(rows:numeric:strings:context:into:)`` takes.
    public var numericFeatureCount: Int
    /// String columns that ``CompiledModel/predict(rows:numeric:strings:context:into:)`` takes.
    public var stringFeatureCount: Int
    /// Name of the output used as the label (classifiers) — an int64 or string tensor of shape [N].
    public var labelOutput: String?
    /// Name of the output used for class scores (classifiers: float [N, C] or a ZipMap) or values (regressors).
    public var scoreOutput: String?
    /// Number of regression targets (regressors), or score columns (classifiers).
    public var scoreColumns: Int
    /// Whether numeric inputs may be NaN (missing values): true when the model handles them (tree ensembles with
    /// missing-value tracking, or an Imputer for NaN) rather than propagating NaN into every score.
    public var acceptsNaN: Bool
}
