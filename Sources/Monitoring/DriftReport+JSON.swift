#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension DriftReport {
    /// The report as pretty-printed, key-sorted JSON (the `.monitoring/` state file).
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        // Plain numbers and strings always encode.
        return (try? Array(encoder.encode(self))) ?? []
    }

    /// Reads a report written by ``encoded()``.
    public static func decode(_ bytes: [UInt8]) throws(ProfileError) -> DriftReport {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do { return try decoder.decode(DriftReport.self, from: Data(bytes)) } catch {
            throw ProfileError("the drift state file is not a valid report: \(error)")
        }
    }
}
