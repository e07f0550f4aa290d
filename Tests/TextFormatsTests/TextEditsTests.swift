import Foundation
import Testing
import TextFormats

/// The string edits that replaced Foundation calls in the CLI and the file readers give what those calls gave
/// (Foundation is linked into this test only, as the reference).
@Suite("String edits without Foundation")
struct TextEditsTests {
    static let samples = [
        "", " ", "\t", "abc", "  a b  ", "\ta\t", "\u{00A0}x\u{3000}", "\u{2003}\u{202F}x y\u{205F}", "\n a \n",
        "\r\n\tx\r\n", "\u{2028}x\u{0085}", "\u{FEFF}id", "x\u{0301} ", " é ", "\u{000B}v\u{000C}", "  \n  ",
    ]

    @Test("trimmingSpaces is trimmingCharacters(in: .whitespaces)", arguments: samples)
    func spaces(_ text: String) {
        #expect(text.trimmingSpaces() == text.trimmingCharacters(in: .whitespaces))
        #expect(text[...].trimmingSpaces() == text[...].trimmingCharacters(in: .whitespaces))
    }

    @Test("trimmingWhitespace is trimmingCharacters(in: .whitespacesAndNewlines)", arguments: samples)
    func whitespace(_ text: String) {
        #expect(text.trimmingWhitespace() == text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test("padded(toLength:) is padding(toLength:withPad: \" \", startingAt: 0)")
    func padded() {
        for text in ["", "ab", "staging", "production", "été"] {
            for length in [0, 1, 2, 7, 10, 12] {
                #expect(text.padded(toLength: length) == text.padding(toLength: length, withPad: " ", startingAt: 0))
            }
        }
    }

    @Test("CFormat.string prints as String(format:)")
    func format() {
        let values = [0, 0.125, 0.5, 1.005, 2.675, -0.0004, 12.5, 1e21, 123_456.789, -7.25, .nan, .infinity]
        for value in values {
            for format in ["%.0f", "%.1f", "%.2f", "%.3f", "%.1f%%", "load time: %.3f ms\n"] {
                #expect(CFormat.string(format, value) == String(format: format, value), "\(format) \(value)")
            }
        }
        // Longer than the first buffer: the second pass gets the whole text.
        let long = String(repeating: "x", count: 100) + " %.2f"
        #expect(CFormat.string(long, 3.14159) == String(repeating: "x", count: 100) + " 3.14")
    }
}
