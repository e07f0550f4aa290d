import GRPCCore
import Testing

@Suite("PercentEncoding")
struct PercentEncodingTests {
    @Test func plainAsciiIsUnchanged() {
        #expect(PercentEncoding.encode("unknown service 'a.B'") == "unknown service 'a.B'")
    }

    @Test func encodesPercentControlAndNonAscii() {
        #expect(PercentEncoding.encode("50% off") == "50%25 off")
        #expect(PercentEncoding.encode("a\nb\t") == "a%0Ab%09")
        #expect(PercentEncoding.encode("café") == "caf%C3%A9")
        #expect(PercentEncoding.encode("😀") == "%F0%9F%98%80")
    }

    @Test func roundTripsAndToleratesBadEscapes() {
        for text in ["", "plain", "50% off", "\t\r\n", "Ünïcödé 😀 %%", "trailing %"] {
            #expect(PercentEncoding.decode(PercentEncoding.encode(text)) == text)
        }
        #expect(PercentEncoding.decode("%zz%4") == "%zz%4")
        #expect(PercentEncoding.decode("%41%62") == "Ab")
    }
}
