import ArgumentParser

// Work in progress: replaced by the issue that introduces `sluice score`.
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "score", abstract: "(in progress)")
    func run() throws { throw ValidationError("'sluice score' is not built yet") }
}
