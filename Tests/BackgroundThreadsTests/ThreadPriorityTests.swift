import BackgroundThreads
import Testing

/// `ThreadPriority`: the `--worker-priority` argument.
@Suite("Thread priority")
struct ThreadPriorityTests {
    @Test("parses a nice increment 0...19 or idle, and nothing else")
    func parsing() {
        #expect(ThreadPriority(argument: "0") == .nicer(0))
        #expect(ThreadPriority(argument: "5") == .nicer(5))
        #expect(ThreadPriority(argument: "19") == .nicer(19))
        #expect(ThreadPriority(argument: "+5") == .nicer(5))  // as `description` writes it
        #expect(ThreadPriority(argument: "idle") == .idle)
        for bad in ["20", "-1", "+20", "", "IDLE", "batch", "5.0"] {
            #expect(ThreadPriority(argument: bad) == nil, "accepted \(bad)")
        }
        #expect(ThreadPriority.nicer(5).description == "+5")
        #expect(ThreadPriority.idle.description == "idle")
    }
}
