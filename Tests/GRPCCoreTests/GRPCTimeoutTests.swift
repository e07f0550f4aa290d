import GRPCCore
import Testing

@Suite("GRPCTimeout")
struct GRPCTimeoutTests {
    @Test(arguments: [
        ("1H", UInt64(3_600_000_000_000)), ("2M", 120_000_000_000), ("3S", 3_000_000_000), ("250m", 250_000_000),
        ("7u", 7_000), ("99999999n", 99_999_999), ("0n", 0),
    ])
    func parsesUnits(text: String, nanoseconds: UInt64) {
        #expect(GRPCTimeout.parse(text) == nanoseconds)
    }

    @Test(arguments: ["", "S", "10", "123456789S", "1.5S", "-1S", "10s", " 1S", "1 S"])
    func rejectsMalformed(text: String) {
        #expect(GRPCTimeout.parse(text) == nil)
    }

    @Test func largeHoursSaturateInsteadOfOverflowing() {
        #expect(GRPCTimeout.parse("99999999H") == UInt64.max)
        #expect(GRPCTimeout.parse("999H") == UInt64(999) * 3_600_000_000_000)
    }
}
