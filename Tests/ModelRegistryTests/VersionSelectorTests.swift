import ModelRegistry
import Testing

@Suite("VersionSelector")
struct VersionSelectorTests {
    @Test(arguments: [
        ("", nil, VersionSelector.routed),
        ("7", nil, .version(7)),
        ("production", nil, .stage(.production)),
        ("Staging", nil, .stage(.staging)),
        ("@champion", nil, .alias("champion")),
        ("models:/churn/7", "churn", .version(7)),
        ("models:/churn/Production", "churn", .stage(.production)),
        ("models:/churn@champion", "churn", .alias("champion")),
    ] as [(String, String?, VersionSelector)])
    func parsesEveryForm(text: String, model: String?, selector: VersionSelector) throws {
        let parsed = try VersionSelector.parse(text)
        #expect(parsed.model == model)
        #expect(parsed.selector == selector)
    }

    @Test(arguments: ["0", "-3", "@Champion", "@", "models:/", "models:/churn", "models:/churn/", "archived", "seven",
                      "models:/bad name/1", "models:/churn@UP"])
    func rejectsMalformed(text: String) {
        #expect(throws: RegistryError.self) { try VersionSelector.parse(text) }
    }

    @Test func errorMessagesNameTheSelector() {
        do {
            _ = try VersionSelector.parse("seven")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("\"seven\""))
        }
    }
}
