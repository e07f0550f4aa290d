import CryptoPrimitives

/// SHA-256 of model files (the registry records it; GetModelVersion reports it), through the one digest wrapper.
public enum SHA256Digest {
    /// Lowercase hex SHA-256 of `bytes`.
    public static func hex(of bytes: [UInt8]) -> String { Crypto.sha256Hex(bytes) }
}
