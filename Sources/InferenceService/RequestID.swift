#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Request ids for calls that did not bring one: 15 lower-case hex digits, unique per process run
/// (a random 28-bit prefix chosen at start plus a 32-bit counter), written into a caller's buffer so that
/// generating one allocates nothing. Fifteen digits also fit Swift's inline small-string storage, so the
/// audit record's copy of the id allocates nothing either.
enum RequestID {
    /// Chosen once per process; only its low 28 bits are used, so ids from different runs are unlikely to collide.
    private static let prefix = UInt32.random(in: 0...UInt32.max)
    /// Incremented (relaxed, wrapping) for every id; ids repeat only after 2^32 generated ids in one run.
    private static let counter = Atomic<UInt32>(0)
    /// ASCII "0123456789abcdef" as a tuple, so it lives inline and reading it allocates nothing (an array would be on
    /// the heap).
    private static let hexDigits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                                   UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102)

    /// Writes a fresh id into `out` (15 bytes) and returns the byte count.
    static func generate(into out: UnsafeMutableRawBufferPointer) -> Int {
        let sequence = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let value = UInt64(prefix & 0x0FFF_FFFF) << 32 | UInt64(sequence)
        withUnsafeBytes(of: hexDigits) { digits in
            for index in 0..<15 {
                let nibble = Int((value >> (UInt64(14 - index) * 4)) & 0xF)
                out[index] = digits[nibble]
            }
        }
        return 15
    }

    /// Runs `body` with the request's own id if it sent one (capped at 128 bytes), else a fresh one.
    @inline(__always)
    static func with<R>(
        _ supplied: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R
    ) rethrows -> R {
        if !supplied.isEmpty {
            return try body(UnsafeRawBufferPointer(rebasing: supplied.prefix(128)))
        }
        return try withUnsafeTemporaryAllocation(byteCount: 16, alignment: 1) { buffer in
            let count = generate(into: buffer)
            return try body(UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[0..<count]))
        }
    }
}
