import SluiceProto

/// Versions of the C libraries the message layer runs on, for `sluice --version`.
public enum MessageLibraries {
    /// protobuf-c's runtime version.
    public static var protobufC: String { ProtobufCLibrary.version }
}
