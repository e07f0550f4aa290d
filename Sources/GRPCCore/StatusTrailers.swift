/// The trailing headers that end a call: `grpc-status`, `grpc-message` (percent-encoded, only when there
/// is a message) and any extra trailers of the error.
public enum StatusTrailers {
    /// The trailers for `error` as (name, value) pairs, lower-case names, in sending order.
    public static func fields(for error: RPCError) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = [("grpc-status", String(error.code.rawValue))]
        if !error.message.isEmpty {
            fields.append(("grpc-message", PercentEncoding.encode(error.message)))
        }
        for trailer in error.trailers {
            fields.append((trailer.name.lowercased(), trailer.value))
        }
        return fields
    }

    /// The status carried by a `grpc-status` value, or `nil` when it is not a known code.
    public static func status(from value: String) -> StatusCode? {
        guard let number = Int(value) else { return nil }
        return StatusCode(rawValue: number)
    }
}
