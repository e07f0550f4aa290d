import Testing

@testable import NetCore

@Suite("TimerHeap")
struct TimerHeapTests {
    /// Pops every action, returning the labels in the order they ran.
    private func drain(_ heap: inout TimerHeap, _ fired: () -> [Int]) -> [Int] {
        while let action = heap.pop() { action() }
        return fired()
    }

    @Test func popsInDeadlineOrderWithTiesInInsertionOrder() {
        final class Log { var order: [Int] = [] }
        let log = Log()
        var heap = TimerHeap()
        #expect(heap.nextDeadline == nil)
        #expect(heap.pop() == nil)
        var state: UInt64 = 7
        var expected: [(UInt64, Int)] = []
        for label in 0..<500 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let deadline = (state >> 40) % 50  // many ties
            expected.append((deadline, label))
            heap.push(deadline: deadline) { log.order.append(label) }
        }
        #expect(heap.count == 500)
        #expect(heap.nextDeadline == expected.map(\.0).min())
        let order = drain(&heap) { log.order }
        // A stable sort by deadline is exactly the required order.
        let sorted = expected.enumerated().sorted { a, b in
            a.element.0 != b.element.0 ? a.element.0 < b.element.0 : a.offset < b.offset
        }.map(\.element.1)
        #expect(order == sorted)
        #expect(heap.count == 0 && heap.nextDeadline == nil)
    }

    @Test func nextDeadlineTracksPushesAndPops() {
        var heap = TimerHeap()
        heap.push(deadline: 30) {}
        heap.push(deadline: 10) {}
        heap.push(deadline: 20) {}
        #expect(heap.nextDeadline == 10)
        _ = heap.pop()
        #expect(heap.nextDeadline == 20)
        heap.push(deadline: 5) {}
        #expect(heap.nextDeadline == 5)
    }
}
