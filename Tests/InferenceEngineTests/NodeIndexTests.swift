@testable import InferenceEngine
import Testing

/// The (tree id, node id) → position index a tree ensemble is built with.
@Suite("Tree node index")
struct NodeIndexTests {
    @Test("every defined pair is found at its position, in any attribute order")
    func findsEveryNode() {
        // Trees 7 and 2 interleaved, node ids not contiguous and not sorted.
        let trees: [Int64] = [7, 2, 7, 2, 7, 2, 9]
        let nodes: [Int64] = [4, 0, 0, 11, 1, 3, 0]
        let index = NodeIndex(trees: trees, nodes: nodes)
        for i in trees.indices {
            #expect(index.position(tree: trees[i], node: nodes[i]) == i)
        }
        #expect(index.duplicate == nil)
    }

    @Test("pairs that are not defined are not found")
    func missingPairs() {
        let index = NodeIndex(trees: [1, 1, 3], nodes: [0, 2, 0])
        #expect(index.position(tree: 1, node: 1) == nil)
        #expect(index.position(tree: 2, node: 0) == nil)
        #expect(index.position(tree: 3, node: 1) == nil)
        #expect(index.position(tree: 0, node: 0) == nil)
        #expect(index.position(tree: 4, node: 0) == nil)
        #expect(NodeIndex(trees: [], nodes: []).position(tree: 0, node: 0) == nil)
    }

    @Test("a pair defined twice is reported")
    func duplicates() {
        let index = NodeIndex(trees: [5, 6, 5], nodes: [1, 1, 1])
        #expect(index.duplicate.map { [$0.0, $0.1] } == [5, 1])
    }
}
