internal import CNGHTTP2

/// The libnghttp2 this binary runs with.
public enum HTTP2Library {
    /// The runtime version string, e.g. `1.52.0`.
    public static var version: String {
        guard let info = nghttp2_version(0), let text = info.pointee.version_str else { return "unknown" }
        return String(cString: text)
    }
}
