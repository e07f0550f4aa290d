#if canImport(Glibc)
    import Glibc
#endif

/// The few string edits the CLI and the offline file readers need, written against the standard library so that
/// no target links Foundation (and its ICU data) for them. Each matches the Foundation call it replaces.
extension StringProtocol {
    /// `self` without leading and trailing spaces and tabs: the Unicode space separators (category Zs) and U+0009,
    /// as `trimmingCharacters(in: .whitespaces)` trims them. Line breaks stay.
    public func trimmingSpaces() -> String {
        trimming { $0 == "\t" || $0.properties.generalCategory == .spaceSeparator }
    }

    /// `self` without leading and trailing white space and line breaks (the Unicode `White_Space` property), as
    /// `trimmingCharacters(in: .whitespacesAndNewlines)` trims them.
    public func trimmingWhitespace() -> String {
        trimming { $0.properties.isWhitespace }
    }

    /// `self` cut or padded with spaces on the right to exactly `length` characters, as
    /// `padding(toLength: length, withPad: " ", startingAt: 0)` does.
    public func padded(toLength length: Int) -> String {
        let count = self.count
        if count >= length { return String(prefix(length)) }
        return String(self) + String(repeating: " ", count: length - count)
    }

    /// `self` without the leading and trailing Unicode scalars that `isTrimmed` selects.
    private func trimming(_ isTrimmed: (Unicode.Scalar) -> Bool) -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !isTrimmed($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isTrimmed($0) }) ?? first
        var kept = String.UnicodeScalarView()
        kept.append(contentsOf: scalars[first...last])
        return String(kept)
    }
}

/// C `printf` formatting of numbers (`%.3f`, `%.1f%%`), for output that must read exactly as
/// `String(format:)` printed it.
public enum CFormat {
    /// `format` filled in by the C library's `vsnprintf`; only numeric conversions (`%d`, `%f`, `%g`, `%%`...)
    /// are meant: a `%s` or `%@` has no Swift argument that could satisfy it.
    ///
    /// Output up to 63 bytes is formatted once into a 64-byte buffer; longer output is formatted again into a
    /// buffer of the size the first pass reported.
    public static func string(_ format: String, _ arguments: any CVarArg...) -> String {
        withVaList(arguments) { list in
            var buffer = [CChar](repeating: 0, count: 64)
            // `vsnprintf` consumes the list; a second pass for long output needs a fresh one.
            let needed = Int(vsnprintf(&buffer, buffer.count, format, list))
            if needed >= buffer.count {
                buffer = [CChar](repeating: 0, count: needed + 1)
                _ = withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) }
            }
            return String(decoding: buffer.prefix(max(needed, 0)).map(UInt8.init(bitPattern:)), as: UTF8.self)
        }
    }
}
