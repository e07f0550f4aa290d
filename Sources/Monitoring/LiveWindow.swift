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
    /// Monotonic time each closed segment ended (when the next one became current).
    private let ends: Mutex<[UInt64]>

    /// A window of `width` counters per block, starting now (`now` in monotonic nanoseconds).
    public init(width: Int, now: UInt64) {
        self.width = max(1, width)
        cellCount = Self.segments * Self.stripes * self.width
        cells = .allocate(capacity: cellCount)
        for index in 0..<cellCount { (cells + index).initialize(to: Atomic(0)) }
        starts = Mutex(Array(repeating: now, count: Self.segments))
        ends = Mutex(Array(repeating: now, count: Self.segments))
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
        ends.withLock { $0[segment] = now }
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
        let endTimes = ends.withLock { $0 }
        var rows: UInt64 = 0
        for back in 0..<Self.segments {
            let segment = (newest - back + Self.segments) % Self.segments
            if back > 0 && now &- endTimes[segment] > maxAgeNanos { break }
            let segmentRows = segmentRows(segment)
            if back > 0 && (segmentRows == 0 || rows + segmentRows > UInt64(maxRows)) { break }
            for stripe in 0..<Self.stripes {
                let base = cells + (segment * Self.stripes + stripe) * width
                for index in 0..<width { totals[index] += UInt64(base[index].load(ordering: .relaxed)) }
            }
            rows += segmentRows
        }
        return totals
    }

    /// One segment of a snapshot: its wall-clock span and its counts (stripes summed).
    public struct SegmentSnapshot: Codable, Sendable, Equatable {
        /// Milliseconds since the Unix epoch.
        public var startUnixMs: Int64
        public var endUnixMs: Int64
        public var counts: [UInt64]

        public init(startUnixMs: Int64, endUnixMs: Int64, counts: [UInt64]) {
            self.startUnixMs = startUnixMs
            self.endUnixMs = endUnixMs
            self.counts = counts
        }

        enum CodingKeys: String, CodingKey {
            case counts
            case startUnixMs = "start_unix_ms"
            case endUnixMs = "end_unix_ms"
        }
    }

    /// The segments holding rows, oldest first, with wall-clock times (`now` monotonic, `wallMillis` the same
    /// instant on the wall clock). The current segment ends now. Timer thread (or shutdown) only.
    public func snapshot(now: UInt64, wallMillis: Int64) -> [SegmentSnapshot] {
        let newest = current.load(ordering: .acquiring)
        let startTimes = starts.withLock { $0 }
        let endTimes = ends.withLock { $0 }
        func wall(_ mono: UInt64) -> Int64 { wallMillis - Int64(min(now &- mono, UInt64(Int64.max)) / 1_000_000) }
        var out: [SegmentSnapshot] = []
        for forward in 1...Self.segments {
            let segment = (newest + forward) % Self.segments
            guard segmentRows(segment) > 0 else { continue }
            var counts = Array(repeating: UInt64(0), count: width)
            for stripe in 0..<Self.stripes {
                let base = cells + (segment * Self.stripes + stripe) * width
                for index in 0..<width { counts[index] += UInt64(base[index].load(ordering: .relaxed)) }
            }
            out.append(
                SegmentSnapshot(
                    startUnixMs: wall(startTimes[segment]),
                    endUnixMs: segment == newest ? wallMillis : wall(endTimes[segment]), counts: counts))
        }
        return out
    }

    /// Loads snapshot segments (oldest first) into an unused window, before any row is recorded: segments of
    /// another width or that ended more than `maxAgeMillis` ago are skipped, at most `segments - 1` of the newest
    /// are kept, and a fresh current segment starts now. Wall-clock times map to monotonic ones through the
    /// pair (`now`, `wallMillis`), so the age limit counts the time the server was down. Returns the rows loaded.
    @discardableResult
    public func restore(_ snapshot: [SegmentSnapshot], now: UInt64, wallMillis: Int64, maxAgeMillis: Int64) -> UInt64 {
        let usable = snapshot.filter {
            $0.counts.count == width && wallMillis - $0.endUnixMs <= maxAgeMillis && $0.startUnixMs <= $0.endUnixMs
        }.suffix(Self.segments - 1)
        func mono(_ wall: Int64) -> UInt64 { now &- UInt64(max(0, wallMillis - wall)) &* 1_000_000 }
        var rows: UInt64 = 0
        var startTimes = Array(repeating: now, count: Self.segments)
        var endTimes = Array(repeating: now, count: Self.segments)
        for (slot, segment) in usable.enumerated() {
            let base = cells + slot * Self.stripes * width
            for index in 0..<(Self.stripes * width) { base[index].store(0, ordering: .relaxed) }
            for index in 0..<width { base[index].store(UInt32(clamping: segment.counts[index]), ordering: .relaxed) }
            startTimes[slot] = mono(segment.startUnixMs)
            endTimes[slot] = mono(segment.endUnixMs)
            rows += UInt64(UInt32(clamping: segment.counts[0]))
        }
        let fresh = usable.count
        let base = cells + fresh * Self.stripes * width
        for index in 0..<(Self.stripes * width) { base[index].store(0, ordering: .relaxed) }
        starts.withLock { $0 = startTimes }
        ends.withLock { $0 = endTimes }
        current.store(fresh, ordering: .releasing)
        return rows
    }
}
