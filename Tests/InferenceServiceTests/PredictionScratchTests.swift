import Testing

@testable import InferenceService

@Suite("PredictionScratch")
struct PredictionScratchTests {
    @Test func prepareSizesInputsAndFillsNaN() {
        let scratch = PredictionScratch()
        scratch.prepare(rows: 3, numericCount: 2, stringCount: 1)
        #expect(scratch.numeric.count == 6)
        #expect(scratch.numeric.allSatisfy { $0.isNaN })
        #expect(scratch.strings == [["", "", ""]])

        // Shrinking keeps the leading values; growing pads with NaN.
        for index in scratch.numeric.indices { scratch.numeric[index] = Float(index) }
        scratch.prepare(rows: 2, numericCount: 2, stringCount: 2)
        #expect(scratch.numeric == [0, 1, 2, 3])
        #expect(scratch.strings == [["", ""], ["", ""]])
        scratch.prepare(rows: 1, numericCount: 5, stringCount: 2)
        #expect(scratch.numeric.count == 5)
        #expect(scratch.numeric[4].isNaN)
        #expect(scratch.strings == [[""], [""]])
    }

    @Test func prepareClearsOutputsButKeepsCapacity() {
        let scratch = PredictionScratch()
        scratch.scores = [Float](repeating: 1, count: 100)
        scratch.labelsInt = [1, 2]
        scratch.labelIndices = [0]
        scratch.confidence = [0.5]
        scratch.values = [1.5]
        let capacity = scratch.scores.capacity
        scratch.prepare(rows: 1, numericCount: 1, stringCount: 0)
        #expect(scratch.scores.isEmpty && scratch.labelsInt.isEmpty && scratch.labelIndices.isEmpty)
        #expect(scratch.confidence.isEmpty && scratch.values.isEmpty)
        #expect(scratch.scores.capacity == capacity)
        #expect(scratch.strings.isEmpty)
    }

    @Test func poolReusesReturnedScratch() {
        let pool = ScratchPool(limit: 2)
        let first = pool.withScratch { ObjectIdentifier($0) }
        let second = pool.withScratch { ObjectIdentifier($0) }
        #expect(first == second)
        // Nested calls need two distinct objects.
        let (outer, inner) = pool.withScratch { a in pool.withScratch { b in (ObjectIdentifier(a), ObjectIdentifier(b)) } }
        #expect(outer != inner)
    }

    @Test func poolDropsScratchWithHugeBuffers() {
        let pool = ScratchPool()
        let big = pool.withScratch { scratch in
            scratch.numeric = [Float](repeating: 0, count: (1 << 20) + 1)
            return ObjectIdentifier(scratch)
        }
        // Keep a strong reference check out of the way: a fresh object must be handed out next.
        let next = pool.withScratch { scratch in (ObjectIdentifier(scratch), scratch.numeric.count) }
        #expect(next.1 == 0)
        _ = big
    }

    @Test func poolHoldsAtMostLimitObjects() {
        let pool = ScratchPool(limit: 1)
        // Three nested scratches are returned; only one is kept, so two calls in a row see the same one and a
        // nested pair needs one fresh object (observable as an empty buffer where the pooled one was marked).
        pool.withScratch { a in
            a.values = [1]
            pool.withScratch { b in
                b.values = [2]
                pool.withScratch { c in c.values = [3] }
            }
        }
        let kept = pool.withScratch { s in pool.withScratch { t in (s.values, t.values) } }
        #expect(kept.0 == [3])
        #expect(kept.1 == [])
    }
}
