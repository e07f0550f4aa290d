#if canImport(Glibc)
import Glibc
#endif

/// glibc's `malloc_trim` (from `<malloc.h>`, which the Glibc module does not export): returns free heap
/// memory of every arena to the system.
@_silgen_name("malloc_trim")
func malloc_trim(_ pad: Int) -> Int32

/// glibc's `mallopt` (also from `<malloc.h>`).
@_silgen_name("mallopt")
func mallopt(_ parameter: Int32, _ value: Int32) -> Int32

/// Process-wide settings of glibc's allocator for a server that loads and releases models.
///
/// glibc serves blocks of at least its mmap threshold (128 KiB at start) with their own mapping, and raises the
/// threshold each time such a block is freed, up to 32 MiB. A model load allocates and frees megabyte arrays, so
/// after the first load every later model array came from the heap instead, and memory freed when a version was
/// replaced stayed in the process: RSS rose in steps at each Staging replacement (issue 15). Fixing the threshold
/// keeps large arrays in their own mappings, which go back to the system when a model is released. Predict
/// allocates nothing of that size per call, so calls do not pay for it. See docs/architecture.md (Memory).
public enum AllocatorSettings {
    /// The mmap threshold fixed at start: glibc's own initial value, no longer raised.
    public static let mmapThreshold: Int32 = 128 * 1024
    /// `M_MMAP_THRESHOLD` in `<malloc.h>`.
    static let mmapThresholdParameter: Int32 = -3

    /// Fixes glibc's mmap threshold at ``mmapThreshold``, unless the operator chose one through `GLIBC_TUNABLES`
    /// or `MALLOC_MMAP_THRESHOLD_`, which then wins. Idempotent. Returns true when this call set it.
    /// `sluice serve` calls it at start; libraries and tests leave the process's allocator alone.
    @discardableResult
    public static func fixMmapThreshold() -> Bool {
        if let tunables = getenv("GLIBC_TUNABLES"), String(cString: tunables).contains("mmap_threshold") { return false }
        if getenv("MALLOC_MMAP_THRESHOLD_") != nil { return false }
        return mallopt(mmapThresholdParameter, mmapThreshold) == 1
    }
}
