/// The trailing headers that end a call: `grpc-status`, `grpc-message` (percent-encoded, only when there
/// is a message) and any extra trailers of the error.
public enum StatusTrailers {
    /// The trailers for `error` as (name, value) pairs, lower-case names, in sending order.
    public static func fields(for error: RPCError) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = [("grpc-status", String(error.code.rawValue))]
        if !error.message.isEmpty {
            fields.append(("grpc-message", PercentEncoding.encode(clamp(error.message))))
        }
        for trailer in error.trailers {
            fields.append((trailer.name.lowercased(), trailer.value))
        }
        return fields
    }

    /// The longest status message sent, in UTF-8 bytes before percent-encoding. Messages may quote request
    /// input; clamping keeps the trailers far below any client's header-list limit.
    public static let maxMessageBytes = 1024

    /// `message` cut to ``maxMessageBytes`` on a character boundary, with "..." appended when cut.
    public static func clamp(_ message: String) -> String {
        guard message.utf8.count > maxMessageBytes else { return message }
        var result = ""
        var used = 0
        for character in message {
            let size = character.utf8.count
            if used + size > maxMessageBytes - 3 { break }
            result.append(character)
            used += size
        }
        return result + "..."
    }

    /// The status carried by a `grpc-status` value, or `nil` when it is not a known code.
    public static func status(from value: String) -> StatusCode? {
        guard let number = Int(value) else { return nil }
        return StatusCode(rawValue: number)
    }
}
