/// A version's lifecycle stage, in MLflow's vocabulary.
public enum Stage: String, Codable, Sendable, CaseIterable {
    case none = "None"
    case staging = "Staging"
    case production = "Production"
    case archived = "Archived"

    /// Parses a stage name case-insensitively (`production`, `Production`, `PRODUCTION`).
    public init?(parsing text: some StringProtocol) {
        let lowered = text.lowercased()
        guard let stage = Stage.allCases.first(where: { $0.rawValue.lowercased() == lowered }) else { return nil }
        self = stage
    }
}
