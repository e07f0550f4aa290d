/// A growable byte buffer in manually managed memory, for the audit log's queue and its line formatting:
/// an append is a bounds check and a `memcpy`, with no uniqueness check and no reference counting.
///
/// A plain value without automatic cleanup: exactly one owner holds it and calls `release()` once. Writes
/// through the unchecked `put` methods must be preceded by a `reserve` that covers them. (`@unchecked Sendable`:
/// a buffer has one owner at a time and changes hands, between a calling thread and the writer, only under the
/// audit queue's lock.)
struct AuditBytes: @unchecked Sendable {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = max(64, capacity)
        base = .allocate(byteCount: self.capacity, alignment: 8)
    }

    /// Frees the memory. The value must not be used afterwards.
    func release() { base.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
    var isEmpty: Bool { count == 0 }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    @inline(never)
    private mutating func grow(to needed: Int) {
        var c = capacity
        while c < needed { c *= 2 }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 8)
        fresh.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = fresh
        capacity = c
    }

    mutating func removeAll() { count = 0 }

    /// Drops the first `n` bytes (moving the rest to the front).
    mutating func removeFirst(_ n: Int) {
        let n = min(n, count)
        if n < count { base.copyMemory(from: base + n, byteCount: count - n) }
        count -= n
    }

    /// Gives memory back after a burst: an empty buffer larger than `limit` shrinks to `limit`.
    mutating func trim(to limit: Int) {
        guard count == 0, capacity > limit else { return }
        base.deallocate()
        capacity = max(64, limit)
        base = .allocate(byteCount: capacity, alignment: 8)
    }

    /// Appends bytes, growing as needed.
    mutating func append(_ src: UnsafeRawBufferPointer) {
        guard let p = src.baseAddress, !src.isEmpty else { return }
        reserve(src.count)
        put(p, src.count)
    }

    // MARK: Unchecked writes (after `reserve`)

    /// Counts `n` bytes written directly at `base + count` as appended.
    @inline(__always)
    mutating func commit(_ n: Int) { count += n }

    @inline(__always)
    mutating func put(_ src: UnsafeRawPointer, _ n: Int) {
        (base + count).copyMemory(from: src, byteCount: n)
        count += n
    }

    @inline(__always)
    mutating func put(_ byte: UInt8) {
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always)
    mutating func put(_ s: StaticString) { put(s.utf8Start, s.utf8CodeUnitCount) }

    /// Stores a fixed-size value at `offset` (any alignment).
    @inline(__always)
    func store<T: BitwiseCopyable>(_ value: T, at offset: Int) {
        withUnsafeBytes(of: value) { (base + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    /// Decimal digits of `value`.
    mutating func putDecimal(_ value: Int64) {
        if value < 0 { put(UInt8(ascii: "-")) }
        var v = value.magnitude
        var digits = 1
        var probe = v
        while probe >= 10 {
            probe /= 10
            digits += 1
        }
        var k = count + digits - 1
        repeat {
            base.storeBytes(of: UInt8(48 + v % 10), toByteOffset: k, as: UInt8.self)
            v /= 10
            k -= 1
        } while v > 0
        count += digits
    }
}
