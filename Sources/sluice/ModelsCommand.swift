import ArgumentParser

// Work in progress: replaced by the issue that introduces `sluice models`.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "models", abstract: "(in progress)")
    func run() throws { throw ValidationError("'sluice models' is not built yet") }
}
