public import HTTP2
public import TLS

/// Versions of the C libraries the transport runs on, for `sluice --version`.
public enum TransportLibraries {
    /// libnghttp2's runtime version.
    public static var nghttp2: String { HTTP2Library.version }
    /// OpenSSL's runtime version text.
    public static var openSSL: String { TLSLibrary.version }
}
