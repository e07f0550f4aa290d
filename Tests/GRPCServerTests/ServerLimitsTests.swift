import Synchronization
import Testing

@testable import GRPCServer

@Suite("ServerLimits")
struct ServerLimitsTests {
    @Test func admitsUpToTheLimitThenRefusesAndCounts() {
        let limits = ServerLimits(maxConnections: 3)
        #expect((0..<3).allSatisfy { _ in limits.admitConnection() })
        #expect(!limits.admitConnection())
        #expect(!limits.admitConnection())
        #expect(limits.connections.load(ordering: .relaxed) == 3)
        #expect(limits.refusedConnections.load(ordering: .relaxed) == 2)
        limits.connectionClosed()
        #expect(limits.admitConnection())
        #expect(!limits.admitConnection())
        #expect(limits.refusedConnections.load(ordering: .relaxed) == 3)
    }

    @Test func refusalFramesAreSettingsThenGoaway() {
        let bytes = RefusalFrames.cleartext
        // SETTINGS: length 0, type 4, no flags, stream 0.
        #expect(Array(bytes[0..<9]) == [0, 0, 0, 4, 0, 0, 0, 0, 0])
        let length = Int(bytes[9]) << 16 | Int(bytes[10]) << 8 | Int(bytes[11])
        #expect(bytes[12] == 7)  // GOAWAY
        #expect(bytes.count == 18 + length)
        #expect(Array(bytes[18..<26]) == [0, 0, 0, 0, 0, 0, 0, 0x0b])
        #expect(String(decoding: bytes[26...], as: UTF8.self) == "server is at its connection limit")
    }
}
