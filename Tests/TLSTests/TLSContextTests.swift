import Foundation
import TLS
import Testing

/// Throwaway PEM material made with the `openssl` CLI in a temp directory: a self-signed server certificate,
/// its key, and an unrelated second key.
struct TestCertificates {
    let directory: URL
    var certificate: String { directory.appendingPathComponent("server.pem").path }
    var key: String { directory.appendingPathComponent("server-key.pem").path }
    var otherKey: String { directory.appendingPathComponent("other-key.pem").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Self.openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-keyout", key, "-out", certificate,
        ])
        try Self.openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", otherKey])
    }

    /// Writes `text` into a file in the directory and returns its path.
    func file(_ name: String, _ text: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "openssl \(arguments.first ?? "") failed")
    }
}

/// Runs `body` and returns the TLSError message it threw (records an issue when it did not throw).
private func tlsErrorMessage(_ body: () throws -> Void) -> String {
    do {
        try body()
        Issue.record("expected a TLSError")
        return ""
    } catch let error as TLSError {
        return error.message
    } catch {
        Issue.record("unexpected error \(error)")
        return ""
    }
}

@Suite("TLSContext")
struct TLSContextTests {
    @Test(arguments: TLSProfile.allCases)
    func loadsMatchingCertificateAndKey(profile: TLSProfile) throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        _ = try TLSContext(certificatePath: certs.certificate, keyPath: certs.key, profile: profile)
        _ = try TLSContext(
            certificatePath: certs.certificate, keyPath: certs.key, profile: profile, clientCAPath: certs.certificate)
    }

    @Test func missingFilesAreNamed() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let missing = certs.directory.appendingPathComponent("nope.pem").path
        let noCert = tlsErrorMessage { _ = try TLSContext(certificatePath: missing, keyPath: certs.key) }
        #expect(noCert.contains("certificate '\(missing)'"), "\(noCert)")
        #expect(noCert.contains("No such file"), "\(noCert)")
        let noKey = tlsErrorMessage { _ = try TLSContext(certificatePath: certs.certificate, keyPath: missing) }
        #expect(noKey.contains("private key '\(missing)'"), "\(noKey)")
        let noCA = tlsErrorMessage {
            _ = try TLSContext(certificatePath: certs.certificate, keyPath: certs.key, clientCAPath: missing)
        }
        #expect(noCA.contains("client CA '\(missing)'"), "\(noCA)")
    }

    @Test func garbageFilesAreRefusedWithPath() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let garbage = try certs.file("garbage.pem", "this is not PEM\n")
        let badCert = tlsErrorMessage { _ = try TLSContext(certificatePath: garbage, keyPath: certs.key) }
        #expect(badCert.hasPrefix("cannot use TLS certificate '\(garbage)'"), "\(badCert)")
        #expect(badCert.hasSuffix("(expected PEM)"))
        let badKey = tlsErrorMessage { _ = try TLSContext(certificatePath: certs.certificate, keyPath: garbage) }
        #expect(badKey.hasPrefix("cannot use TLS private key '\(garbage)'"), "\(badKey)")
        let badCA = tlsErrorMessage {
            _ = try TLSContext(certificatePath: certs.certificate, keyPath: certs.key, clientCAPath: garbage)
        }
        #expect(badCA.hasPrefix("cannot load client CA '\(garbage)'"), "\(badCA)")
    }

    @Test func mismatchedKeyIsRefusedNamingBothFiles() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let message = tlsErrorMessage {
            _ = try TLSContext(certificatePath: certs.certificate, keyPath: certs.otherKey)
        }
        #expect(message.hasPrefix("TLS private key '\(certs.otherKey)' does not match certificate '\(certs.certificate)'"),
                "\(message)")
    }

    @Test func swappedCertificateAndKeyAreRefused() throws {
        let certs = try TestCertificates()
        defer { certs.remove() }
        let message = tlsErrorMessage { _ = try TLSContext(certificatePath: certs.key, keyPath: certs.certificate) }
        #expect(message.contains("'\(certs.key)'"), "\(message)")
    }
}

@Suite("TLSProfile")
struct TLSProfileTests {
    @Test func namesRoundTripThroughRawValues() {
        #expect(TLSProfile.allCases.map(\.rawValue) == ["modern", "intermediate"])
        #expect(TLSProfile(rawValue: "modern") == .modern)
        #expect(TLSProfile(rawValue: "intermediate") == .intermediate)
        #expect(TLSProfile(rawValue: "old") == nil)
        #expect(TLSProfile(rawValue: "Modern") == nil)
    }

    @Test func decodesFromJSON() throws {
        let decoded = try JSONDecoder().decode([TLSProfile].self, from: Data(#"["modern","intermediate"]"#.utf8))
        #expect(decoded == [.modern, .intermediate])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([TLSProfile].self, from: Data(#"["tls10"]"#.utf8)) }
    }
}
