import ONNXFormat

/// The range of ONNX IR versions the loader accepts, for `sluice inspect` and error messages.
extension CompiledModel {
    /// The oldest IR version the loader reads (older files are refused with advice to re-export).
    public static var oldestIRVersion: Int64 { ONNXModel.supportedIRVersions.lowerBound }
    /// The newest IR version the loader was written against; newer files load when they use nothing newer.
    public static var newestKnownIRVersion: Int64 { ONNXModel.supportedIRVersions.upperBound }
}
