#if canImport(Glibc)
import Glibc
#endif
import CLibFuzzer

/// The input callback libFuzzer calls once per generated input: the bytes, valid only during the call.
/// Returns 0 (libFuzzer reserves other values).
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Starts libFuzzer with the process arguments and exits with its status (non-zero after a crash, a sanitizer
/// report, a timeout or an out-of-memory input, when libFuzzer has written the reproducer).
public func runLibFuzzer(_ callback: FuzzCallback) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}

/// The bytes of one input as a buffer (empty when libFuzzer passes a null pointer for an empty input).
@inline(__always)
public func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeRawBufferPointer {
    guard let data, size > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
    return UnsafeRawBufferPointer(start: data, count: size)
}

/// Runs a target's one-time setup (fixtures, services) with leak detection off for what it allocates: that state
/// lives for the whole run, and LeakSanitizer cannot follow pointers stored with Swift's enum tag bits, so it
/// would report parts of it as leaked at exit. Allocations made by each input are still checked.
public func fuzzSetup<T>(_ body: () -> T) -> T {
    __lsan_disable()
    defer { __lsan_enable() }
    return body()
}
