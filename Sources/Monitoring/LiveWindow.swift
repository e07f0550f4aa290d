#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Synchronization

/// Sliding-window bin counters of one monitored version, written on the serving path without a lock.
///
/// The window is a ring of ``segments`` segments; each segment holds one block of `width` counters per stripe
/// (a stripe is picked from the calling thread, so event-loop threads rarely share a cache line). Recording is
/// a relaxed atomic increment into the current segment: no allocation, no lock, no sort. A timer thread (never
/// the serving path) calls ``rotate(now:rowsPerSegment:nanosPerSegment:)``, which zeroes the oldest segment and
/// makes it current once the current one holds a tenth of the row limit or a tenth of the time limit, and
/// ``merged(now:maxRows:maxAgeNanos:)``, which sums the newest segments into one set of counts.
public final class LiveWindow: @unchecked Sendable {
    /// Segments in the ring (the window moves in steps of a tenth of its limits).
    public static let segments = 10
    /// Counter blocks per segment.
    public static let stripes = 4

    /// Counters per block; counter 0 counts rows.
    public let width: Int
    private let cells: UnsafeMutablePointer<Atomic<UInt32>>
    private let cellCount: Int
    /// Index of the segment being written.
    private let current = Atomic<Int>(0)
    /// Monotonic start time of each segment (timer thread only).
    private let starts: Mutex<[UInt64]>

    /// A window of `width` counters per block, starting now (`now` in monotonic nanoseconds).
    public init(width: Int, now: UInt64) {
        self.width = max(1, width)
        cellCount = Self.segments * Self.stripes * self.width
        cells = .allocate(capacity: cellCount)
        for index in 0..<cellCount { (cells + index).initialize(to: Atomic(0)) }
        starts = Mutex(Array(repeating: now, count: Self.segments))
    }

    deinit {
        cells.deinitialize(count: cellCount)
        cells.deallocate()
    }

    /// Bytes of counter storage (for the memory benchmark and the docs).
    public var counterBytes: Int { cellCount * MemoryLayout<UInt32>.stride }

    /// The counter block the calling thread writes into now.
    @inline(__always)
    public func block() -> UnsafeMutablePointer<Atomic<UInt32>> {
        let segment = current.load(ordering: .acquiring)
        #if canImport(Glibc)
            let thread = UInt(pthread_self())
        #else
            let thread = UInt(bitPattern: pthread_self())
        #endif
        let stripe = Int(truncatingIfNeeded: (thread &* 0x9E37_79B9_7F4A_7C15) >> 62) & (Self.stripes - 1)
        return cells + (segment * Self.stripes + stripe) * width
    }

    /// Adds one to counter `offset` of `block`.
    @inline(__always)
    public static func increment(_ block: UnsafeMutablePointer<Atomic<UInt32>>, _ offset: Int) {
        block[offset].wrappingAdd(1, ordering: .relaxed)
    }

    /// Moves to the next segment when the current one is full (rows) or old (time). Timer thread only.
    public func rotate(now: UInt64, rowsPerSegment: Int, nanosPerSegment: UInt64) {
        let segment = current.load(ordering: .relaxed)
        let rows = segmentRows(segment)
        let age = starts.withLock { now &- $0[segment] }
        guard rows >= UInt64(max(1, rowsPerSegment)) || age >= nanosPerSegment else { return }
        if rows == 0 {
            // An idle segment is not pushed into the ring; it just starts again.
            starts.withLock { $0[segment] = now }
            return
        }
        let next = (segment + 1) % Self.segments
        let base = cells + next * Self.stripes * width
        for index in 0..<(Self.stripes * width) { base[index].store(0, ordering: .relaxed) }
        starts.withLock { $0[next] = now }
        current.store(next, ordering: .releasing)
    }

    /// Rows recorded into `segment` so far.
    private func segmentRows(_ segment: Int) -> UInt64 {
        var rows: UInt64 = 0
        for stripe in 0..<Self.stripes {
            rows += UInt64((cells + (segment * Self.stripes + stripe) * width)[0].load(ordering: .relaxed))
        }
        return rows
    }

    /// The counts of the window: the newest segments (the current one always) holding at most `maxRows` rows
    /// together, skipping segments that ended more than `maxAgeNanos` ago. Counter 0 is the row count.
    public func merged(now: UInt64, maxRows: Int, maxAgeNanos: UInt64) -> [UInt64] {
        var totals = Array(repeating: UInt64(0), count: width)
        let newest = current.load(ordering: .acquiring)
        let startTimes = starts.withLock { $0 }
        var rows: UInt64 = 0
        var end = now
        for back in 0..<Self.segments {
            let segment = (newest - back + Self.segments) % Self.segments
            if back > 0 && now &- end > maxAgeNanos { break }
            let segmentRows = segmentRows(segment)
            if back > 0 && (segmentRows == 0 || rows + segmentRows > UInt64(maxRows)) { break }
            for stripe in 0..<Self.stripes {
                let base = cells + (segment * Self.stripes + stripe) * width
                for index in 0..<width { totals[index] += UInt64(base[index].load(ordering: .relaxed)) }
            }
            rows += segmentRows
            end = startTimes[segment]
        }
        return totals
    }
}
