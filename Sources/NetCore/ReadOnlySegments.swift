internal import CSystemShims

/// The program's and its shared libraries' read-only file mappings (code, read-only data), as resident pages.
///
/// The kernel maps a file-backed page together with its cached neighbours (64 KiB around each fault), so every
/// function that ran once (argument parsing, TLS and key set-up, the ONNX decoder and plan compiler) leaves its
/// whole window mapped and counted in the process's RSS for the rest of its life: about 10 MiB of the binary's
/// 13 MB of code after a model load. ``release()`` unmaps those pages; the ones the serving path uses come back on
/// their first touch as minor faults from the page cache, which keeps every file page (nothing is re-read from
/// disk). See docs/architecture.md (Memory).
public enum ReadOnlySegments {
    /// Unmaps the resident pages of every non-writable loaded segment. Writable segments, including the RELRO
    /// part that the dynamic loader wrote before protecting it, are never touched. Returns the bytes of address
    /// space advised; throws the first `madvise` failure (the other segments are still released).
    @discardableResult
    public static func release() throws(SystemError) -> Int {
        let result = csys_release_read_only_segments()
        if result < 0 { throw SystemError("madvise(MADV_DONTNEED) on a read-only segment", errno: Int32(-result)) }
        return Int(result)
    }
}
