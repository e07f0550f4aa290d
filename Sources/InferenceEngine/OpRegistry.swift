/// The ops the engine implements, by `domain.op_type`, with the opset versions it understands.
enum OpRegistry {
    /// Checks one node's inputs and attributes, sets its output types on the ``NodeBuilder`` and returns its kernel.
    typealias Builder = (inout NodeBuilder) throws(EngineError) -> any Kernel

    /// Opset versions accepted per domain.
    ///
    /// A model importing a version outside these ranges is refused at load with `.unsupported`. Other domains are not
    /// checked here, but none of their ops is in ``builders``, so a node that uses one is refused too.
    static let domains: [String: ClosedRange<Int64>] = ["ai.onnx": 1...22, "ai.onnx.ml": 1...5]

    /// The kernel builder of each supported op, keyed by `domain.op_type` (`ONNXNode.qualifiedOp`); an op missing here
    /// is refused at load with `.unsupported`.
    ///
    /// `nonisolated(unsafe)` because a dictionary of closures is not `Sendable`; it is a `let` that is never mutated.
    nonisolated(unsafe) static let builders: [String: Builder] = [
        // ai.onnx.ml
        "ai.onnx.ml.TreeEnsembleClassifier": TreeEnsembleClassifierKernel.build,
        "ai.onnx.ml.TreeEnsembleRegressor": TreeEnsembleRegressorKernel.build,
        "ai.onnx.ml.LinearClassifier": LinearClassifierKernel.build,
        "ai.onnx.ml.LinearRegressor": LinearRegressorKernel.build,
        "ai.onnx.ml.Scaler": ScalerKernel.build,
        "ai.onnx.ml.Normalizer": NormalizerKernel.build,
        "ai.onnx.ml.Binarizer": BinarizerKernel.build,
        "ai.onnx.ml.Imputer": ImputerKernel.build,
        "ai.onnx.ml.OneHotEncoder": OneHotEncoderKernel.build,
        "ai.onnx.ml.LabelEncoder": LabelEncoderKernel.buildLabelEncoder,
        "ai.onnx.ml.CategoryMapper": LabelEncoderKernel.buildCategoryMapper,
        "ai.onnx.ml.ArrayFeatureExtractor": ArrayFeatureExtractorKernel.build,
        "ai.onnx.ml.FeatureVectorizer": FeatureVectorizerKernel.build,
        "ai.onnx.ml.ZipMap": ZipMapKernel.build,
        // ai.onnx
        "ai.onnx.Identity": ReshapeKernel.build(.identity),
        "ai.onnx.Cast": CastKernel.build,
        "ai.onnx.Concat": ConcatKernel.build,
        "ai.onnx.Gather": GatherKernel.build,
        "ai.onnx.Split": SplitKernel.build,
        "ai.onnx.Reshape": ReshapeKernel.build(.reshape),
        "ai.onnx.Flatten": ReshapeKernel.build(.flatten),
        "ai.onnx.Squeeze": ReshapeKernel.build(.squeeze),
        "ai.onnx.Unsqueeze": ReshapeKernel.build(.unsqueeze),
        "ai.onnx.Add": BinaryArithmeticKernel.build(.add),
        "ai.onnx.Sub": BinaryArithmeticKernel.build(.sub),
        "ai.onnx.Mul": BinaryArithmeticKernel.build(.mul),
        "ai.onnx.Div": BinaryArithmeticKernel.build(.div),
        "ai.onnx.MatMul": MatMulKernel.build,
        "ai.onnx.Gemm": GemmKernel.build,
        "ai.onnx.Relu": UnaryKernel.build(.relu),
        "ai.onnx.Sigmoid": UnaryKernel.build(.sigmoid),
        "ai.onnx.Tanh": UnaryKernel.build(.tanh),
        "ai.onnx.Abs": UnaryKernel.build(.abs),
        "ai.onnx.Exp": UnaryKernel.build(.exp),
        "ai.onnx.Log": UnaryKernel.build(.log),
        "ai.onnx.Sqrt": UnaryKernel.build(.sqrt),
        "ai.onnx.Neg": UnaryKernel.build(.neg),
        "ai.onnx.Reciprocal": UnaryKernel.build(.reciprocal),
        "ai.onnx.Clip": UnaryKernel.build(.clip),
        "ai.onnx.Softmax": SoftmaxKernel.build,
        "ai.onnx.ArgMax": ArgMaxKernel.build,
        "ai.onnx.Less": CompareKernel.build(.less),
        "ai.onnx.Greater": CompareKernel.build(.greater),
        "ai.onnx.Equal": CompareKernel.build(.equal),
        "ai.onnx.Where": WhereKernel.build,
        "ai.onnx.ReduceSum": ReduceKernel.build(mean: false),
        "ai.onnx.ReduceMean": ReduceKernel.build(mean: true),
    ]

    /// All supported ops, sorted, for `sluice inspect` and documentation.
    static var supportedOps: [String] { builders.keys.sorted() }
}
