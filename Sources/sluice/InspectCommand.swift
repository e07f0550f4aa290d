import ArgumentParser

// Work in progress: replaced by the issue that introduces `sluice inspect`.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "(in progress)")
    func run() throws { throw ValidationError("'sluice inspect' is not built yet") }
}
