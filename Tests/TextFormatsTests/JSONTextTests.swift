import Foundation
import Testing
import TextFormats

/// The one JSON string escaper, checked against Foundation's parser.
@Suite("JSON text")
struct JSONTextTests {
    @Test("escapes quotes, backslashes and every control character; keeps other text as it is")
    func escapes() throws {
        #expect(JSONText.quoted("") == "\"\"")
        #expect(JSONText.quoted("a\"b\\c") == "\"a\\\"b\\\\c\"")
        #expect(JSONText.quoted("l1\nl2\r\t") == "\"l1\\nl2\\r\\t\"")
        #expect(JSONText.quoted("\u{1}\u{1f}") == "\"\\u0001\\u001f\"")
        #expect(JSONText.quoted("café ✓ 🚀 /") == "\"café ✓ 🚀 /\"")
    }

    @Test("every string of the first 256 scalars and some multi-byte ones round-trips through a JSON parser")
    func roundTrip() throws {
        var text = String(String.UnicodeScalarView((0..<256).compactMap(Unicode.Scalar.init)))
        text += "\u{2028}\u{FEFF}😀"
        let json = "[" + JSONText.quoted(text) + "]"
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String]
        #expect(parsed == [text])
    }
}
