#if canImport(Glibc)
import Glibc
#endif

/// glibc's `malloc_trim` (from `<malloc.h>`, which the Glibc module does not export): returns free heap
/// memory of every arena to the system.
@_silgen_name("malloc_trim")
func malloc_trim(_ pad: Int) -> Int32
