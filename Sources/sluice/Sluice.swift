import ArgumentParser
import SluiceServer

/// The `sluice` command line: the server and the tools around it.
///
/// `sluice --version` prints ``VersionReport/text``; each subcommand lives in a file of its own
/// (`ServeCommand.swift`, `ScoreCommand.swift`, ...).
@main
struct Sluice: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A gRPC inference server for ONNX classic-ML models.",
        version: VersionReport.text,
        subcommands: [
            ServeCommand.self, ScoreCommand.self, InspectCommand.self, ModelsCommand.self, KeysCommand.self,
            RolloutCommand.self,
        ]
    )
}
