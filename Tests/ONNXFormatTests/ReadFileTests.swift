import Foundation
import ONNXFormat
import Testing

/// `ONNXModel.readFile` reads a whole file into an exactly sized array and names the path in its errors.
@Suite("Reading model files")
struct ReadFileTests {
    /// A fresh temporary directory, removed by the caller.
    func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-readfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("the bytes are the file's, for empty, small and multi-chunk files")
    func wholeFile() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        for size in [0, 1, 65_535, 65_536, 300_001] {
            let expected = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let path = dir.appendingPathComponent("f\(size)").path
            try Data(expected).write(to: URL(fileURLWithPath: path))
            let bytes = try ONNXModel.readFile(path)
            #expect(bytes == expected)
            #expect(bytes.capacity < size + 64, "the array is sized to the file, not grown by doubling")
        }
    }

    @Test("a missing file and a directory are refused with the path in the message")
    func refusals() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let missing = dir.appendingPathComponent("absent.onnx").path
        #expect {
            _ = try ONNXModel.readFile(missing)
        } throws: { error in
            (error as? ONNXFormatError)?.message.contains(missing) == true
        }
        #expect {
            _ = try ONNXModel.readFile(dir.path)
        } throws: { error in
            (error as? ONNXFormatError)?.message.contains("not a regular file") == true
        }
    }

    @Test("a file parsed from disk equals the same bytes parsed from memory")
    func parsesFromDisk() throws {
        let path = SharedModels.dir.appendingPathComponent("spark_churn_rf/model.onnx").path
        let fromDisk = try ONNXModel(contentsOf: path)
        let fromMemory = try ONNXModel(bytes: SharedModels.bytes("spark_churn_rf"))
        #expect(fromDisk.graph.nodes.map(\.opType) == fromMemory.graph.nodes.map(\.opType))
        #expect(fromDisk.graph.nodes.map(\.attributes) == fromMemory.graph.nodes.map(\.attributes))
        #expect(fromDisk.graph.initializers.keys.sorted() == fromMemory.graph.initializers.keys.sorted())
    }
}
