import InferenceService
import Testing

@Suite("FeatureTable")
struct FeatureTableTests {
    private func position(_ table: FeatureTable, _ name: String) -> Int? {
        Array(name.utf8).withUnsafeBytes { table.position(of: $0) }
    }

    @Test func slotsAreDenseWithinEachKind() {
        let table = FeatureTable(features: [
            ("age", .numeric, false), ("city", .string, false), ("income", .numeric, true), ("plan", .string, false),
        ])
        #expect(table.numericCount == 2)
        #expect(table.stringCount == 2)
        #expect(table.slots == [0, 0, 1, 1])
        #expect(table.kinds == [.numeric, .string, .numeric, .string])
        #expect(table.acceptsNaN == [false, false, true, false])
        #expect(table.namesList == "age, city, income, plan")
    }

    @Test func linearLookupMatchesExactBytesOnly() {
        let table = FeatureTable(features: [("a", .numeric, false), ("ab", .numeric, false), ("abc", .string, false)])
        #expect(position(table, "a") == 0)
        #expect(position(table, "ab") == 1)
        #expect(position(table, "abc") == 2)
        #expect(position(table, "abcd") == nil)
        #expect(position(table, "b") == nil)
        #expect(position(table, "") == nil)
        #expect(position(table, "AB") == nil)
    }

    @Test func emptyNameFeatureIsFound() {
        let table = FeatureTable(features: [("x", .numeric, false), ("", .numeric, false)])
        #expect(position(table, "") == 1)
        #expect(position(table, "x") == 0)
    }

    @Test func hashedLookupAgreesWithLinearForManyFeatures() {
        // More than 16 features switches to the hash index; the answers must be the same.
        let names = (0..<40).map { "f\($0)" }
        let table = FeatureTable(features: names.map { ($0, .numeric, false) })
        for (expected, name) in names.enumerated() { #expect(position(table, name) == expected) }
        #expect(position(table, "f40") == nil)
        #expect(position(table, "f") == nil)
        let small = FeatureTable(features: names.prefix(16).map { ($0, .numeric, false) })
        for (expected, name) in names.prefix(16).enumerated() { #expect(position(small, name) == expected) }
        #expect(position(small, "f16") == nil)
    }

    @Test func emptyTable() {
        let table = FeatureTable(features: [])
        #expect(position(table, "x") == nil)
        #expect(position(table, "") == nil)
        #expect(table.numericCount == 0 && table.stringCount == 0)
        #expect(table.namesList == "")
    }
}
