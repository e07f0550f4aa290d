@testable import Monitoring
import Testing

@Suite("WindowSnapshot")
struct WindowSnapshotTests {
    /// 30 requests in three segments (10 each, the timer rotating after each), at monotonic 1, 2, 3 s.
    static func filled() throws -> ModelMonitor {
        let monitor = try ModelMonitorTests.monitor(windowRows: 100)
        for step in 1...3 {
            for index in 0..<10 { ModelMonitorTests.record(monitor, income: Float(step * 100 + index), plan: "plus") }
            monitor.rotate(now: UInt64(step) * 1_000_000_000)
        }
        return monitor
    }

    @Test func restoredWindowHasTheSameCounts() throws {
        let monitor = try Self.filled()
        let wall: Int64 = 1_800_000_000_000
        let before = monitor.window.merged(now: 3_000_000_000, maxRows: 100, maxAgeNanos: 3_600_000_000_000)
        let snapshot = monitor.snapshot(layout: "L", now: 3_000_000_000, wallMillis: wall)
        #expect(snapshot.segments.count == 3)
        #expect(snapshot.segments.map(\.counts[0]) == [10, 10, 10])
        #expect(snapshot.segments.last?.endUnixMs == wall)
        let decoded = try WindowSnapshot.decode(try snapshot.encoded())
        #expect(decoded == snapshot)

        // A new process: another monotonic clock, 10 minutes later on the wall clock.
        let restarted = try ModelMonitorTests.monitor(windowRows: 100)
        let outcome = restarted.restore(decoded, layout: "L", now: 7_000_000_000, wallMillis: wall + 600_000)
        #expect(outcome.contains("30 requests"))
        let after = restarted.window.merged(now: 7_000_000_000, maxRows: 100, maxAgeNanos: 3_600_000_000_000)
        #expect(after == before)
        // New traffic goes to a fresh segment on top of the restored ones.
        ModelMonitorTests.record(restarted, income: 5, plan: "basic")
        #expect(restarted.window.merged(now: 7_000_000_000, maxRows: 100, maxAgeNanos: 3_600_000_000_000)[0] == 31)
        // The age limit counts the downtime: over an hour after the snapshot, its segments have left the window.
        let hourLater: UInt64 = 7_000_000_000 + 3_100_000_000_000
        #expect(restarted.window.merged(now: hourLater, maxRows: 100, maxAgeNanos: 3_600_000_000_000)[0] == 1)
    }

    @Test func staleOrForeignSnapshotsAreNotRestored() throws {
        let monitor = try Self.filled()
        let wall: Int64 = 1_800_000_000_000
        let snapshot = monitor.snapshot(layout: "L", now: 3_000_000_000, wallMillis: wall)
        let other = try ModelMonitorTests.monitor(windowRows: 100)
        #expect(other.restore(snapshot, layout: "M", now: 0, wallMillis: wall).contains("another profile"))
        #expect(other.window.merged(now: 0, maxRows: 100, maxAgeNanos: .max)[0] == 0)
        // Two hours later (window limit: 1 hour): every segment is too old.
        let stale = other.restore(snapshot, layout: "L", now: 0, wallMillis: wall + 7_200_000)
        #expect(stale.contains("0 requests") && stale.contains("3 segments older"))
        #expect(other.window.merged(now: 0, maxRows: 100, maxAgeNanos: .max)[0] == 0)
        #expect(throws: ProfileError.self) { try WindowSnapshot.decode(Array("{\"format\": 2}".utf8)) }
    }

    @Test func idleTimeDoesNotKeepOldSegmentsInTheWindow() throws {
        let monitor = try ModelMonitorTests.monitor(windowRows: 100)
        for index in 0..<10 { ModelMonitorTests.record(monitor, income: Float(index), plan: "plus") }
        monitor.rotate(now: 400_000_000_000)  // 400 s: the segment is old enough to close
        // Idle for two hours with the timer running (idle segments restart in place).
        var now: UInt64 = 400_000_000_000
        while now < 7_600_000_000_000 {
            now += 300_000_000_000
            monitor.rotate(now: now)
        }
        #expect(monitor.window.merged(now: now, maxRows: 100, maxAgeNanos: 3_600_000_000_000)[0] == 0)
    }
}
