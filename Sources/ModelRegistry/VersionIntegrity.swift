/// The registry's check that a version's file still holds the bytes that were registered.
public enum VersionIntegrity {
    /// The SHA-256 (hex) of `bytes`; throws the loader's error when `recorded` is set and differs.
    @discardableResult
    public static func check(_ bytes: [UInt8], recorded: String) throws(RegistryError) -> String {
        let digest = SHA256Digest.hex(of: bytes)
        if !recorded.isEmpty && recorded != digest {
            throw RegistryError(
                .io, "model.onnx has SHA-256 \(digest) but the registry recorded \(recorded) (file changed or corrupt)")
        }
        return digest
    }
}
