/// The `grpc-timeout` request header: 1–8 ASCII digits and a unit (`H M S m u n`).
public enum GRPCTimeout {
    /// The timeout in nanoseconds, or `nil` when the value is malformed. Saturates instead of overflowing.
    public static func parse(_ value: UnsafeRawBufferPointer) -> UInt64? {
        guard value.count >= 2, value.count <= 9 else { return nil }
        var amount: UInt64 = 0
        for index in 0..<(value.count - 1) {
            let byte = value[index]
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            amount = amount * 10 + UInt64(byte - 0x30)
        }
        let multiplier: UInt64
        switch value[value.count - 1] {
        case UInt8(ascii: "H"): multiplier = 3_600_000_000_000
        case UInt8(ascii: "M"): multiplier = 60_000_000_000
        case UInt8(ascii: "S"): multiplier = 1_000_000_000
        case UInt8(ascii: "m"): multiplier = 1_000_000
        case UInt8(ascii: "u"): multiplier = 1_000
        case UInt8(ascii: "n"): multiplier = 1
        default: return nil
        }
        let (product, overflow) = amount.multipliedReportingOverflow(by: multiplier)
        return overflow ? UInt64.max : product
    }

    /// Convenience for tests and callers holding a `String`.
    public static func parse(_ value: String) -> UInt64? {
        var copy = value
        return copy.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }
}
