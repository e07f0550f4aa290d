import ArgumentParser
import FoundationEssentials
import InferenceEngine
import TextFormats

/// `sluice inspect`: loads a model and prints its signature, ops, opsets and load time.
///
/// Use it to see the feature names `sluice score` and the Predict RPC match inputs against, and whether the engine
/// supports the model at all: a model the engine cannot run fails here with an error naming the node, the op and
/// the reason.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Load an ONNX model and print its signature, ops, opsets and load time.")

    @Argument(help: "Path of the .onnx model.")
    var path: String

    /// Loads the model with the serving engine and prints ``describe(_:path:)``; a model that does not load prints
    /// `error: PATH: reason` on stderr and exits 1.
    func run() throws {
        let model: CompiledModel
        do {
            model = try CompiledModel(contentsOf: path)
        } catch {
            FileAccess.writeStandardError("error: \(path): \(error.message)\n")
            throw ExitCode(1)
        }
        print(Self.describe(model, path: path), terminator: "")
    }

    /// The report printed by `sluice inspect`, one fact per line, ending with a newline.
    ///
    /// Lists the file's size, IR version and producer, the opsets, the load time (ms), the task, inputs and outputs
    /// with their shapes (`N` for a dynamic dimension, `?` when unknown) and roles, class labels, the features `sluice
    /// score` matches columns against, whether NaN is handled, the op counts and, for tree ensembles, the flattened
    /// node count. A note is added when the file's IR version is newer than the engine knows.
    static func describe(_ model: CompiledModel, path: String) -> String {
        let sig = model.signature
        let info = model.info
        func shape(_ s: [Int?]?) -> String {
            guard let s else { return "?" }
            return "[" + s.map { $0.map(String.init) ?? "N" }.joined(separator: ", ") + "]"
        }
        var out = "model: \(path)\n"
        out +=
            "file: \(info.fileSize) bytes, IR version \(info.irVersion), producer \(info.producer.isEmpty ? "-" : info.producer)\n"
        let newest = CompiledModel.newestKnownIRVersion
        if info.irVersion > newest {
            out += "note: IR version \(info.irVersion) is newer than the newest this engine knows (\(newest)); it loads because it uses nothing newer\n"
        }
        out +=
            "opsets: " + info.opsets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + "\n"
        out += CFormat.string("load time: %.3f ms\n", info.loadTime * 1000)
        out += "task: \(sig.task.rawValue)\n"
        out += "inputs:\n"
        for i in sig.inputs { out += "  \(i.name): \(i.type) \(shape(i.shape))\n" }
        out += "outputs:\n"
        for o in sig.outputs {
            var role = ""
            if o.name == sig.labelOutput {
                role = "  (label)"
            } else if o.name == sig.scoreOutput {
                role = sig.task == .classifier ? "  (class scores)" : "  (values)"
            }
            out += "  \(o.name): \(o.type) \(shape(o.shape))\(role)\n"
        }
        switch sig.classLabels {
        case .none: break
        case .int64(let v): out += "class labels: " + v.map(String.init).joined(separator: ", ") + "\n"
        case .string(let v): out += "class labels: " + v.joined(separator: ", ") + "\n"
        }
        out += "features (\(sig.numericFeatureCount) numeric, \(sig.stringFeatureCount) string): "
        out += sig.features.map { "\($0.name)\($0.kind == .string ? " (string)" : "")" }.joined(separator: ", ") + "\n"
        out += "missing values (NaN): \(sig.acceptsNaN ? "handled by the model" : "not handled")\n"
        out += "ops (\(info.nodeCount) nodes):\n"
        for (op, n) in info.opCounts.sorted(by: { $0.key < $1.key }) { out += "  \(op) × \(n)\n" }
        if info.trees > 0 { out += "trees: \(info.trees), \(info.treeNodes) flattened nodes\n" }
        return out
    }
}
