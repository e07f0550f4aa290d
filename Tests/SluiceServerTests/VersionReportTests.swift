import SluiceServer
import Testing

@Suite("VersionReport")
struct VersionReportTests {
    /// True when `text` starts with a dotted version number (`1.52.0`, `3.0.15`).
    private func startsWithVersion(_ text: Substring) -> Bool {
        let head = text.prefix { $0.isNumber || $0 == "." }
        return head.contains(".") && head.first?.isNumber == true
    }

    @Test func oneLinePerComponentWithVersions() {
        let lines = VersionReport.text.split(separator: "\n")
        #expect(lines.count == 6)
        let names = ["sluice ", "nghttp2 ", "OpenSSL ", "protobuf-c ", "Swift ", "libmicrohttpd "]
        for (line, name) in zip(lines, names) {
            #expect(line.hasPrefix(name), "\(line)")
            #expect(startsWithVersion(line.dropFirst(name.count)), "\(line)")
        }
        #expect(lines[0] == "sluice \(VersionReport.sluice)")
        #expect(lines[4] == "Swift \(VersionReport.swift)")
    }
}
