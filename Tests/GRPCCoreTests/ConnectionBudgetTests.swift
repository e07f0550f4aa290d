import GRPCCore
import Testing

/// The per-connection allowance of first-sight signature checks: a token bucket with a burst of its rate.
@Suite("ConnectionBudget")
struct ConnectionBudgetTests {
    @Test func grantsTheBurstThenRefusesWithTheWait() {
        let budget = ConnectionBudget(perSecond: 4, nowNanos: 0)
        for _ in 0..<4 { #expect(budget.take(nowNanos: 0) == nil) }
        #expect(budget.take(nowNanos: 0) == 250)  // one unit comes back every 250 ms
        #expect(budget.take(nowNanos: 200_000_000) == 50)
    }

    @Test func refillsAtItsRateUpToTheBurst() {
        let budget = ConnectionBudget(perSecond: 2, nowNanos: 0)
        #expect(budget.take(nowNanos: 0) == nil)
        #expect(budget.take(nowNanos: 0) == nil)
        #expect(budget.take(nowNanos: 0) != nil)
        #expect(budget.take(nowNanos: 500_000_000) == nil)  // half a second: one unit
        #expect(budget.take(nowNanos: 500_000_000) != nil)
        // A long pause refills only up to the burst.
        for _ in 0..<2 { #expect(budget.take(nowNanos: 60_000_000_000) == nil) }
        #expect(budget.take(nowNanos: 60_000_000_000) != nil)
    }

    @Test func aClockThatDoesNotAdvanceNeverRefills() {
        let budget = ConnectionBudget(perSecond: 1, nowNanos: 5_000)
        #expect(budget.take(nowNanos: 5_000) == nil)
        #expect(budget.take(nowNanos: 1_000) == 1000)  // earlier than the last take: no refill, no crash
    }
}
