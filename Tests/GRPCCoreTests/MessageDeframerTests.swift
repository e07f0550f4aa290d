import GRPCCore
import Testing

@Suite("MessageDeframer")
struct MessageDeframerTests {
    @Test func messageSplitAcrossChunks() throws {
        var deframer = MessageDeframer(maxMessageBytes: 100)
        try deframer.append([0, 0, 0])
        #expect(try deframer.next() == nil)
        try deframer.append([0, 3, 7, 8])
        #expect(try deframer.next() == nil)
        try deframer.append([9])
        #expect(try deframer.next() == MessageDeframer.Message(compressed: false, payload: [7, 8, 9]))
        #expect(deframer.bufferedByteCount == 0)
        try deframer.finish()
    }

    @Test("a multi-megabyte message is sized once after 256 KiB arrived, and arrives whole")
    func largeMessageIsReservedOnce() throws {
        var deframer = MessageDeframer(maxMessageBytes: 8 << 20)
        let length = 3 << 20
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let message: [UInt8] = [0, UInt8(length >> 24), UInt8((length >> 16) & 0xff), 0, 0] + payload
        var offset = 0
        var capacities: Set<Int> = []
        while offset < message.count {
            let end = min(message.count, offset + 16_384)
            try deframer.append(Array(message[offset..<end]))
            offset = end
            if offset >= MessageDeframer.reserveAfterBytes + 16_384 {
                #expect(deframer.capacity >= message.count)
                capacities.insert(deframer.capacity)
            }
        }
        #expect(capacities.count == 1)  // no regrowth (and copy) after the reservation
        #expect(try deframer.next()?.payload == payload)
    }

    @Test("takeNextMessage hands over the buffer and keeps only the bytes after the message")
    func takeNextMessageHandsOverTheBuffer() throws {
        var deframer = MessageDeframer(maxMessageBytes: 100)
        try deframer.append([0, 0, 0, 0, 3, 7, 8, 9, 0, 0])
        let taken = try #require(try deframer.takeNextMessage())
        #expect(!taken.compressed)
        #expect(Array(taken.storage[taken.payload]) == [7, 8, 9])
        #expect(deframer.bufferedByteCount == 2)  // the start of the next message stays
        try deframer.append([0, 0, 1, 5])
        #expect(try deframer.next() == MessageDeframer.Message(compressed: false, payload: [5]))
        #expect(try deframer.takeNextMessage() == nil)
    }

    @Test("a small message is not reserved for by its declared length")
    func smallPrefixReservesNothing() throws {
        var deframer = MessageDeframer(maxMessageBytes: 64 << 20)
        try deframer.append([0, 3, 0, 0, 0, 1, 2, 3])  // declares 48 MiB, sends 3 bytes
        #expect(deframer.capacity < 1 << 20)
    }

    @Test func longStreamDropsConsumedBytes() throws {
        // Every chunk ends inside the next message, so the buffer is never empty between appends.
        var deframer = MessageDeframer(maxMessageBytes: 1 << 20)
        let message: [UInt8] = [0, 0, 0, 0x10, 0] + Array(repeating: 5, count: 4096)
        try deframer.append(Array(message[0..<100]))
        for _ in 0..<100 {
            try deframer.append(Array(message[100...]) + Array(message[0..<100]))
            #expect(try deframer.next()?.payload.count == 4096)
            #expect(deframer.bufferedByteCount == 100)
        }
        #expect(deframer.retainedByteCount < 80 << 10)
    }

    @Test func severalMessagesInOneChunk() throws {
        var deframer = MessageDeframer(maxMessageBytes: 100)
        try deframer.append([0, 0, 0, 0, 1, 42, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2])
        #expect(try deframer.next()?.payload == [42])
        #expect(try deframer.next() == MessageDeframer.Message(compressed: true, payload: []))
        #expect(try deframer.next()?.payload == [1, 2])
        #expect(try deframer.next() == nil)
    }

    @Test func oversizedMessageIsRefusedFromThePrefix() {
        var deframer = MessageDeframer(maxMessageBytes: 10)
        #expect(throws: MessageDeframer.Failure.tooLarge(declared: 11, limit: 10)) {
            try deframer.append([0, 0, 0, 0, 11])
        }
        let error = MessageDeframer.Failure.tooLarge(declared: 11, limit: 10).rpcError
        #expect(error.code == .resourceExhausted)
        #expect(error.message.contains("limit of 10 bytes"))
    }

    @Test func invalidFlagAndTruncation() throws {
        var deframer = MessageDeframer(maxMessageBytes: 10)
        #expect(throws: MessageDeframer.Failure.invalidFlag(2)) { try deframer.append([2, 0, 0, 0, 0]) }
        var other = MessageDeframer(maxMessageBytes: 10)
        try other.append([0, 0, 0, 0, 4, 1])
        #expect(throws: MessageDeframer.Failure.truncated(buffered: 6)) { try other.finish() }
        #expect(other.nextMessageSpan == 9)
    }

    @Test func inPlaceReadConsumes() throws {
        var deframer = MessageDeframer(maxMessageBytes: 10)
        try deframer.append([1, 0, 0, 0, 2, 5, 6])
        let seen = try deframer.withNextMessage { compressed, payload in (compressed, Array(payload)) }
        #expect(seen?.0 == true && seen?.1 == [5, 6])
        #expect(deframer.bufferedByteCount == 0)
        #expect(try deframer.withNextMessage { _, _ in 1 } == nil)
    }
}
