import Monitoring
import Testing

@Suite("TabularFile")
struct TabularFileTests {
    @Test func readsCSVWithQuotesAndMissingCells() throws {
        let text = "age,plan,note\n30,basic,\"a, b\"\n,\"pro \"\"x\"\"\",\n"
        let file = try TabularFile(bytes: Array(text.utf8))
        #expect(file.rows == 2)
        let ages = try file.numbers("age")
        #expect(ages[0] == 30 && ages[1].isNaN)
        #expect(try file.strings("plan") == ["basic", "pro \"x\""])
        #expect(try file.strings("note") == ["a, b", ""])
    }

    @Test func readsJSONLines() throws {
        let text = "{\"age\": 30.5, \"plan\": \"basic\"}\n\n{\"age\": null, \"plan\": 2}\n{\"plan\": \"pro\"}\n"
        let file = try TabularFile(bytes: Array(text.utf8))
        #expect(file.rows == 3)
        let ages = try file.numbers("age")
        #expect(ages[0] == 30.5 && ages[1].isNaN && ages[2].isNaN)
        #expect(try file.strings("plan") == ["basic", "2", "pro"])
    }

    @Test func reportsBadData() {
        #expect(throws: ProfileError.self) { try TabularFile(bytes: Array("a,b\n1\n".utf8)) }
        #expect(throws: ProfileError.self) { try TabularFile(bytes: Array("{\"a\": [1]}\n".utf8)) }
        #expect(throws: ProfileError.self) { try TabularFile(bytes: Array("a\nx\n".utf8)).numbers("a") }
        #expect(throws: ProfileError.self) { try TabularFile(bytes: Array("a\n1\n".utf8)).numbers("b") }
    }
}
