internal import CProtobufC

/// The protobuf-c runtime this binary runs with.
public enum ProtobufCLibrary {
    /// The runtime version string, e.g. `1.4.1`.
    public static var version: String {
        guard let text = protobuf_c_version() else { return "unknown" }
        return String(cString: text)
    }
}
