import Testing

#if canImport(Glibc)
    import Glibc
#endif

@testable import NetCore

/// Written before the release and read after it: lives in a writable segment, which must keep its content.
nonisolated(unsafe) private var writtenBeforeRelease: [Int] = []

/// A call through a protocol witness table, whose pointers the dynamic loader relocated (RELRO data).
private protocol Shape { func area() -> Double }
private struct Square: Shape {
    let side: Double
    func area() -> Double { side * side }
}

@Suite("ReadOnlySegments")
struct ReadOnlySegmentsTests {
    /// The `RssFile` line of /proc/self/status, in KiB.
    private func residentFileKiB() -> Int? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            if text.hasPrefix("RssFile:") {
                return Int(text.dropFirst("RssFile:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
            }
        }
        return nil
    }

    @Test func releasingUnmapsFilePagesAndKeepsCodeAndDataWorking() throws {
        writtenBeforeRelease = (0..<1000).map { $0 * 3 }
        let shapes: [any Shape] = [Square(side: 3), Square(side: 0.5)]
        let before = try #require(residentFileKiB())
        let advised = try ReadOnlySegments.release()
        let after = try #require(residentFileKiB())
        // At least the test binary's own code was advised, and fewer file pages are mapped than before (the ones
        // this test has touched since come back).
        #expect(advised > 1 << 20)
        #expect(after < before, "RssFile \(before) KiB before, \(after) KiB after")
        // Code, relocated data and written data behave as before.
        let expectedSum: Int = 3 * 999 * 1000 / 2
        let sum: Int = writtenBeforeRelease.reduce(0, +)
        #expect(sum == expectedSum)
        let areas: [Double] = shapes.map { $0.area() }
        #expect(areas == [9.0, 0.25])
        #expect(String(describing: SystemError("probe", errno: ENOENT)).contains("No such file"))
    }

    @Test func releasingTwiceIsHarmless() throws {
        try ReadOnlySegments.release()
        let second = try ReadOnlySegments.release()
        #expect(second > 0)
    }
}
