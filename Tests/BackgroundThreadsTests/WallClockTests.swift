import BackgroundThreads
import Foundation
import Testing

@Suite("Wall clock from the monotonic clock")
struct WallClockTests {
    @Test("agrees with the system wall clock and moves with the monotonic clock")
    func agreesWithTheWallClock() {
        for _ in 0..<3 {
            let before = Date().timeIntervalSince1970
            let derived = WallClock.seconds(atMonotonic: monotonicNanos())
            let after = Date().timeIntervalSince1970
            #expect(derived >= before - 0.005 && derived <= after + 0.005, "\(before) \(derived) \(after)")
            usleep(20_000)
        }
        let start = monotonicNanos()
        let a = WallClock.seconds(atMonotonic: start)
        let b = WallClock.seconds(atMonotonic: start + 250_000_000)
        #expect(abs((b - a) - 0.25) < 0.001)
    }
}
