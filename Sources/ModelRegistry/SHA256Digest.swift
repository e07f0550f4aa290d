import CryptoPrimitives

/// SHA-256 of model files (the registry records it; GetModelVersion reports it), through the one digest wrapper.
enum SHA256Digest {
    static func hex(of bytes: [UInt8]) -> String { Crypto.sha256Hex(bytes) }
}
