import ArgumentParser

// Work in progress: replaced by the issue that introduces `sluice serve`.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "(in progress)")
    func run() throws { throw ValidationError("'sluice serve' is not built yet") }
}
