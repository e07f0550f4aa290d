#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FuzzDriver
@testable import Auth
import CryptoPrimitives
import TextFormats

/// libFuzzer target: the credential parsers of ``AuthService`` (bearer JWTs, API keys, the `authorization`
/// header) and the JSON parser behind them.
///
/// The service is configured once, from a temporary folder: an HS256 key (so the fuzzer can reach the claim checks
/// with correctly signed tokens whose header and payload it chooses), an API key, and the built-in roles.
@main
enum FuzzAuth {
    static func main() {
        _ = fuzzSetup { setup }
        runLibFuzzer(LLVMFuzzerTestOneInput)
    }

    /// The HS256 secret (32 bytes) the configuration names, so that mode 1 signs what the fuzzer writes.
    static let secret = Array("fuzz-secret-0123456789abcdef-0123".utf8)
    /// The configured API key.
    static let apiKey = "slk_fuzzkey0123456789"
    /// A fixed clock (seconds since the epoch), so a reproducer behaves the same on any day.
    static let now = 1_800_000_000.0

    static let setup: (service: AuthService, directory: String) = {
        let directory = NSTemporaryDirectory() + "sluice-fuzz-auth-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data(secret).write(to: URL(fileURLWithPath: directory + "/hs.key"))
            let config = """
                {"jwt": {"issuer": "https://issuer.test", "audience": ["sluice"], "leewaySeconds": 30,
                         "keys": [{"kid": "hs-1", "alg": "HS256", "file": "hs.key"}]},
                 "apiKeys": [{"id": "k1", "sha256": "\(APIKeys.sha256Hex(apiKey))", "principal": "svc",
                              "roles": ["predictor"]}]}
                """
            try Data(config.utf8).write(to: URL(fileURLWithPath: directory + "/security.json"))
            let service = try AuthService(configPath: directory + "/security.json")
            return (service, directory)
        } catch {
            fatalError("fuzz-auth setup failed: \(error)")
        }
    }()
}

/// One input. Byte 0 chooses what the rest is:
/// 0: a bearer token; 1: a JWT header and payload (JSON, split at the first 0 byte), signed with the configured
/// HS256 key; 2: an `x-api-key` value; 3: a whole `authorization` header; 4: a JSON document. (The security
/// configuration parser is not fuzzed here: its input is the operator's, and it reads the files it names.)
@_cdecl("LLVMFuzzerTestOneInput")
func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    guard let mode = input.first else { return 0 }
    let rest = Array(input.dropFirst())
    let service = FuzzAuth.setup.service
    func authorize(authorization: String?, apiKey: String?) {
        let decision = service.authorize(
            rpc: .predict, model: "churn", authorization: authorization, apiKey: apiKey, mtlsSubject: nil,
            peer: "fuzz", now: FuzzAuth.now)
        if case .denied(let denial) = decision, denial.message.isEmpty { fatalError("denial without a message") }
    }
    switch mode % 5 {
    case 0:
        authorize(authorization: "Bearer " + String(decoding: rest, as: UTF8.self), apiKey: nil)
    case 1:
        let split = rest.firstIndex(of: 0) ?? rest.count
        let header = Base64URL.encode(rest[..<split])
        let payload = Base64URL.encode(rest[min(split + 1, rest.count)...])
        let signingInput = header + "." + payload
        let signature = Crypto.hmacSHA256(key: FuzzAuth.secret, message: Array(signingInput.utf8))
        authorize(authorization: "Bearer " + signingInput + "." + Base64URL.encode(signature), apiKey: nil)
    case 2:
        authorize(authorization: nil, apiKey: String(decoding: rest, as: UTF8.self))
    case 3:
        authorize(authorization: String(decoding: rest, as: UTF8.self), apiKey: nil)
    default:
        _ = try? JSONParser.parse(rest)
    }
    return 0
}
