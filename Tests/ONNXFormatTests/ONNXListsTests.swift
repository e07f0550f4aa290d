import ONNXFormat
import Testing

@Suite("Compact attribute lists")
struct ONNXListsTests {
    @Test("ints that fit in 32 bits are stored narrow and read back as the same Int64s")
    func narrowInts() {
        let values: [Int64] = [0, 1, -1, Int64(Int32.max), Int64(Int32.min), 70_627]
        let list = ONNXIntList(values)
        #expect(Array(list) == values)
        #expect(list.storageBytes == 4 * values.count)
    }

    @Test("one value outside 32 bits keeps the whole list wide, also when it arrives mid-stream in a file")
    func wideInts() throws {
        let values: [Int64] = [3, 4, Int64(Int32.max) + 1, -5, Int64.min]
        let list = ONNXIntList(values)
        #expect(Array(list) == values)
        #expect(list.storageBytes == 8 * values.count)
        let model = Wire.model(attributes: [Wire.string(1, "i") + Wire.int(20, 7) + Wire.packedInts(8, values)])
        let parsed = try ONNXModel(bytes: model).graph.nodes[0].attributes["i"]
        guard case .ints(let decoded)? = parsed else {
            Issue.record("attribute i is not an ints list: \(String(describing: parsed))")
            return
        }
        #expect(Array(decoded) == values && decoded.storageBytes == 8 * values.count)
    }

    @Test("narrow and wide lists with the same values are equal; different values are not")
    func equality() {
        #expect(ONNXIntList([1, 2, 3]) == [1, 2, 3])
        #expect(ONNXIntList([1, 2, 3]) != [1, 2, 4])
        #expect(ONNXIntList([1, Int64.max]) != [1, 2])
        #expect(ONNXAttribute.ints([5, 6]) == .ints(ONNXIntList([5, 6])))
    }

    @Test("strings are interned: a few distinct words for many elements, read back in order")
    func internedStrings() {
        var words: [String] = []
        for k in 0..<1_000 { words.append(k % 3 == 0 ? "LEAF" : k % 3 == 1 ? "BRANCH_LEQ" : "BRANCH_LT") }
        let list = ONNXStringList(words)
        #expect(Array(list) == words)
        #expect(list.table == ["LEAF", "BRANCH_LEQ", "BRANCH_LT"])
        #expect(list.codes.count == 1_000)
    }

    @Test("more distinct strings than the linear scan holds go through the lookup table")
    func manyDistinctStrings() {
        let words = (0..<40).map { "w\($0 % 20)" } + ["", "é", "a much longer string than fits inline"]
        let list = ONNXStringList(words)
        #expect(Array(list) == words)
        #expect(list.table.count == 23)
        #expect(ONNXStringList(words) == ONNXStringList(words) && ONNXStringList(["a"]) != ["b"])
    }

    @Test("a forest's node attributes parse narrow: 4 bytes per node id instead of 8")
    func forestAttributesAreNarrow() throws {
        let model = try ONNXModel(bytes: SharedModels.bytes("spark_churn_rf"))
        let forest = try #require(model.graph.nodes.first { $0.opType == "TreeEnsembleClassifier" })
        for name in ["nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_truenodeids", "class_ids"] {
            guard case .ints(let list)? = forest.attributes[name] else {
                Issue.record("\(name) is not an ints list")
                continue
            }
            #expect(list.storageBytes == 4 * list.count, "\(name) is stored wide")
        }
        guard case .strings(let modes)? = forest.attributes["nodes_modes"] else {
            Issue.record("nodes_modes is not a strings list")
            return
        }
        #expect(modes.table.count <= 3 && modes.codes.count == modes.count)
    }
}
