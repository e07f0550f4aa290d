import InferenceEngine
public import InferenceService
import ModelRegistry

/// The server's own load path, for tools that must refuse what the server would refuse (`sluice models
/// register`, `promote`, `alias`): the same parser, IR and opset checks, op checks, compiler and feature-name
/// binding as the registry's loader in ``InferenceStack``, so that the messages are the same too.
public enum ServingCheck {
    /// Compiles model bytes as a served version would be compiled. Throws the error the registry would record
    /// as the version's FAILED reason (its `description` is that reason).
    public static func compile(bytes: [UInt8], featureNames: [String]?) throws -> ServableModel {
        try ServableModel.load(bytes: bytes, featureNames: featureNames)
    }

    /// Loads version `version` of `model` from `source` and compiles it with the model's feature names; nil when
    /// it would load, else the reason it would fail.
    public static func failure(of model: String, version: Int64, in source: any ModelSource) -> String? {
        do {
            let metadata = try source.metadata(of: model)
            // An unknown version: the registry write that follows reports NOT_FOUND itself.
            guard let recorded = metadata.version(version) else { return nil }
            let bytes = try source.modelBytes(model: model, version: version)
            try VersionIntegrity.check(bytes, recorded: recorded.sha256)
            _ = try compile(bytes: bytes, featureNames: metadata.featureNames)
            return nil
        } catch let error as RegistryError {
            return error.message
        } catch {
            return "\(error)"
        }
    }
}
