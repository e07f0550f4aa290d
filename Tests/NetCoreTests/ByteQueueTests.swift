import NetCore
import Testing

@Suite("ByteQueue")
struct ByteQueueTests {
    private func readable(_ queue: ByteQueue) -> [UInt8] { queue.withReadableBytes { Array($0) } }

    @Test func appendsAndConsumesInOrder() {
        var queue = ByteQueue(reservingCapacity: 4)
        #expect(queue.isEmpty)
        queue.append([1, 2, 3])
        ([4, 5] as [UInt8]).withUnsafeBytes { queue.append($0) }
        #expect(queue.count == 5)
        #expect(readable(queue) == [1, 2, 3, 4, 5])
        queue.consume(2)
        #expect(readable(queue) == [3, 4, 5])
        queue.consume(100)  // more than present: everything, no crash
        #expect(queue.isEmpty && queue.count == 0)
        #expect(readable(queue) == [])
    }

    @Test func emptyAppendsAreIgnored() {
        var queue = ByteQueue()
        queue.append(UnsafeRawBufferPointer(start: nil, count: 0))
        queue.append([])
        #expect(queue.isEmpty)
    }

    @Test func compactionKeepsContentAcrossManyCycles() {
        // Fixed-seed interleaving of appends and partial consumes against a reference array.
        var queue = ByteQueue()
        var reference: [UInt8] = []
        var state: UInt64 = 12345
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(state >> 33)
        }
        for round in 0..<2000 {
            let chunk = (0..<(next() % 50)).map { UInt8(truncatingIfNeeded: round &+ $0) }
            queue.append(chunk)
            reference += chunk
            let drop = next() % 60
            queue.consume(drop)
            reference.removeFirst(min(drop, reference.count))
            #expect(queue.count == reference.count)
        }
        #expect(readable(queue) == reference)
        #expect(queue.removeAll() == reference)
        #expect(queue.isEmpty)
    }
}
