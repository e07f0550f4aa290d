import HTTPServer
import GRPCServer
import InferenceService

/// What `sluice --version` prints: Sluice's version and those of the libraries this build runs with.
public enum VersionReport {
    /// This release of Sluice.
    public static let sluice = "0.9.0"

    /// The Swift compiler that built this binary (to the minor version).
    public static var swift: String {
        #if compiler(>=6.4)
            return "6.4 or newer"
        #elseif compiler(>=6.3)
            return "6.3"
        #elseif compiler(>=6.2)
            return "6.2"
        #elseif compiler(>=6.1)
            return "6.1"
        #else
            return "6.0"
        #endif
    }

    /// One line per component: `sluice 0.9.0`, `nghttp2 1.52.0`, `OpenSSL 3.0.x ...`, `protobuf-c 1.4.1`,
    /// `Swift 6.3`, `libmicrohttpd 0.9.75` (the REST and admin listeners).
    public static var text: String {
        let openSSL = TransportLibraries.openSSL
        return [
            "sluice \(sluice)",
            "nghttp2 \(TransportLibraries.nghttp2)",
            openSSL.hasPrefix("OpenSSL") ? openSSL : "OpenSSL \(openSSL)",
            "protobuf-c \(MessageLibraries.protobufC)",
            "Swift \(swift)",
            "libmicrohttpd \(HTTPServer.libraryVersion)",
        ].joined(separator: "\n")
    }
}
