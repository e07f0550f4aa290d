internal import COpenSSL

/// The OpenSSL this binary runs with.
public enum TLSLibrary {
    /// The runtime version text, e.g. `OpenSSL 3.0.17 1 Jul 2025`.
    public static var version: String {
        // OPENSSL_VERSION (0) selects the library's version text.
        guard let text = OpenSSL_version(0) else { return "unknown" }
        return String(cString: text)
    }
}
