import Foundation
import Testing

@testable import Auth

/// Tokens minted by PyJWT (and by raw HMAC in Python) against this verifier: run
/// `python Tests/integration/test_auth.py DIR` with the test venv, then `SLUICE_PYJWT_DIR=DIR swift test`.
@Suite("PyJWT interop", .enabled(if: ProcessInfo.processInfo.environment["SLUICE_PYJWT_DIR"] != nil))
struct PyJWTInteropTests {
    @Test("every token of the Python battery gets the expected outcome")
    func battery() throws {
        let dir = try #require(ProcessInfo.processInfo.environment["SLUICE_PYJWT_DIR"])
        let service = try AuthService(configPath: "\(dir)/security.json")
        let data = try #require(FileManager.default.contents(atPath: "\(dir)/tokens.json"))
        let items = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: String]])
        #expect(items.count > 20)
        for item in items {
            let name = item["name"] ?? "?"
            let d = service.authorize(
                AuthRequest(rpc: .predict, model: "churn", authorization: "Bearer " + (item["token"] ?? "")))
            switch (d, item["expect"]) {
            case (.allowed, "allowed"): break
            case (.denied(let denial), "unauthenticated"):
                #expect(denial.code == .unauthenticated, "\(name): \(denial.reason)")
            default:
                Issue.record("\(name): expected \(item["expect"] ?? "?"), got \(d)")
            }
        }
    }
}
