import CryptoPrimitives
import Foundation

@testable import Auth

/// Keys generated at test time with the `openssl` CLI, and a minter for hostile and valid JWTs.
final class TestPKI: Sendable {
    let dir: String
    /// A 48-byte HS256 secret.
    let hmacSecret: [UInt8]

    struct Failure: Error, CustomStringConvertible { let description: String }

    private static let sharedResult: Result<TestPKI, Failure> = Result { () throws(Failure) in try TestPKI() }
    static func shared() throws -> TestPKI { try sharedResult.get() }

    private init() throws(Failure) {
        dir = NSTemporaryDirectory() + "sluice-auth-pki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw Failure(description: "mkdir \(dir): \(error)")
        }
        hmacSecret = (0..<48).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        try Self.openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "\(dir)/rsa.pem"])
        try Self.openssl(["pkey", "-in", "\(dir)/rsa.pem", "-pubout", "-out", "\(dir)/rsa.pub"])
        try Self.openssl([
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "\(dir)/ec.pem",
        ])
        try Self.openssl(["pkey", "-in", "\(dir)/ec.pem", "-pubout", "-out", "\(dir)/ec.pub"])
        try Self.openssl(["genpkey", "-algorithm", "ED25519", "-out", "\(dir)/ed.pem"])
        try Self.openssl(["pkey", "-in", "\(dir)/ed.pem", "-pubout", "-out", "\(dir)/ed.pub"])
        try Self.openssl([
            "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", "\(dir)/rsa1024.pem",
        ])
        try Self.openssl(["pkey", "-in", "\(dir)/rsa1024.pem", "-pubout", "-out", "\(dir)/rsa1024.pub"])
        _ = FileManager.default.createFile(atPath: "\(dir)/hs.key", contents: Data(hmacSecret))
        try writeJWKS()
    }

    @discardableResult
    static func openssl(_ args: [String], stdin: Data? = nil) throws(Failure) -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = args
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let input = Pipe()
        p.standardInput = input
        do { try p.run() } catch { throw Failure(description: "openssl \(args): \(error)") }
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try? input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure(description: "openssl \(args.joined(separator: " ")): \(String(decoding: e, as: UTF8.self))")
        }
        return data
    }

    /// The raw public point / key bytes at the end of a DER SubjectPublicKeyInfo.
    private func derTail(_ pub: String, _ n: Int) throws(Failure) -> [UInt8] {
        let der = try Self.openssl(["pkey", "-pubin", "-in", "\(dir)/\(pub)", "-outform", "DER"])
        return Array(der.suffix(n))
    }

    private func writeJWKS() throws(Failure) {
        let modHex = String(
            decoding: try Self.openssl(["rsa", "-pubin", "-in", "\(dir)/rsa.pub", "-modulus", "-noout"]), as: UTF8.self
        )
        .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "Modulus=", with: "")
        guard let n = Hex.decode(modHex) else { throw Failure(description: "cannot read RSA modulus") }
        let point = try derTail("ec.pub", 65)
        let ed = try derTail("ed.pub", 32)
        let jwks = """
            {"keys": [
              {"kty": "RSA", "kid": "rsa-jwks", "alg": "RS256", "use": "sig", "n": "\(Base64URL.encode(n))", "e": "AQAB"},
              {"kty": "EC", "kid": "ec-1", "alg": "ES256", "crv": "P-256",
               "x": "\(Base64URL.encode(point[1..<33]))", "y": "\(Base64URL.encode(point[33..<65]))"},
              {"kty": "OKP", "kid": "ed-1", "alg": "EdDSA", "crv": "Ed25519", "x": "\(Base64URL.encode(ed))"},
              {"kty": "oct", "kid": "hs-jwks", "alg": "HS256", "k": "\(Base64URL.encode(hmacSecret))"}
            ]}
            """
        _ = FileManager.default.createFile(atPath: "\(dir)/jwks.json", contents: Data(jwks.utf8))
    }

    // MARK: Minting

    enum Signer {
        case rsa  // rsa.pem, RS256
        case ec  // ec.pem, ES256 (JOSE r||s)
        case ed  // ed.pem, EdDSA
        case hmac([UInt8])  // HS256 with this secret
        case unsigned  // empty signature
        case raw([UInt8])  // this exact signature
    }

    static func b64(_ s: String) -> String { Base64URL.encode(Array(s.utf8)) }

    /// A compact JWS from raw header and payload JSON text, signed as asked.
    func mint(header: String, payload: String, signer: Signer) throws -> String {
        let input = Self.b64(header) + "." + Self.b64(payload)
        return input + "." + Base64URL.encode(try sign(input, signer))
    }

    func sign(_ input: String, _ signer: Signer) throws(Failure) -> [UInt8] {
        let data = Data(input.utf8)
        switch signer {
        case .unsigned: return []
        case .raw(let s): return s
        case .hmac(let key): return Crypto.hmacSHA256(key: key, message: Array(input.utf8))
        case .rsa: return Array(try Self.openssl(["dgst", "-sha256", "-sign", "\(dir)/rsa.pem"], stdin: data))
        case .ec:
            let der = Array(try Self.openssl(["dgst", "-sha256", "-sign", "\(dir)/ec.pem"], stdin: data))
            return try Self.derToJOSE(der, width: 32)
        case .ed:
            let path = "\(dir)/in-\(UInt64.random(in: 0...UInt64.max)).bin"
            _ = FileManager.default.createFile(atPath: path, contents: data)
            defer { try? FileManager.default.removeItem(atPath: path) }
            return Array(try Self.openssl(["pkeyutl", "-sign", "-inkey", "\(dir)/ed.pem", "-rawin", "-in", path]))
        }
    }

    /// DER ECDSA-Sig-Value → r||s.
    static func derToJOSE(_ der: [UInt8], width: Int) throws(Failure) -> [UInt8] {
        var i = 2
        if der.count > 1 && der[1] & 0x80 != 0 { i = 2 + Int(der[1] & 0x7F) }
        var out: [UInt8] = []
        for _ in 0..<2 {
            guard i + 2 <= der.count, der[i] == 0x02 else { throw Failure(description: "bad DER signature") }
            let len = Int(der[i + 1])
            var v = Array(der[(i + 2)..<(i + 2 + len)])
            while v.count > width && v.first == 0 { v.removeFirst() }
            out += [UInt8](repeating: 0, count: width - v.count) + v
            i += 2 + len
        }
        return out
    }

    /// Standard claims, valid now.
    static func claims(
        sub: String = "alice", iss: String = "https://issuer.test", aud: String = "\"sluice\"",
        exp: String? = nil, nbf: String? = nil, extra: String = ""
    ) -> String {
        let now = Int(Date().timeIntervalSince1970)
        var s = "{\"sub\":\"\(sub)\",\"iss\":\"\(iss)\",\"aud\":\(aud),\"exp\":\(exp ?? String(now + 600))"
        if let nbf { s += ",\"nbf\":\(nbf)" }
        if !extra.isEmpty { s += "," + extra }
        return s + "}"
    }

    static func header(alg: String, kid: String?, extra: String = "") -> String {
        var s = "{\"alg\":\"\(alg)\",\"typ\":\"JWT\""
        if let kid { s += ",\"kid\":\"\(kid)\"" }
        if !extra.isEmpty { s += "," + extra }
        return s + "}"
    }

    /// A complete security configuration using every key kind, written to a temp file.
    func writeConfig(_ body: String, name: String = "security-\(UInt32.random(in: 0...UInt32.max)).json") -> String {
        let path = "\(dir)/\(name)"
        _ = FileManager.default.createFile(atPath: path, contents: Data(body.utf8))
        return path
    }

    /// The `jwt` section trusting all test keys.
    var jwtSection: String {
        """
        "jwt": {"issuer": "https://issuer.test", "audience": ["sluice", "sluice-internal"], "leewaySeconds": 30,
                "jwksFile": "jwks.json",
                "keys": [{"kid": "rsa-1", "alg": "RS256", "file": "rsa.pub"},
                         {"kid": "hs-1", "alg": "HS256", "file": "hs.key"}]}
        """
    }
}
