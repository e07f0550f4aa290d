import DurableFiles
import Glibc
import Testing

/// A fresh directory under `/tmp`, removed (with its files) by ``remove()``.
struct ScratchDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/sluice-durable-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = try #require(made.map { String(cString: $0) })
    }

    /// Removes the directory tree (files first, then subdirectories, one level deep is all the tests create).
    func remove() {
        for name in AtomicFile.entries(path) ?? [] {
            let child = "\(path)/\(name)"
            if AtomicFile.isDirectory(child) {
                for inner in AtomicFile.entries(child) ?? [] { unlink("\(child)/\(inner)") }
                rmdir(child)
            } else {
                unlink(child)
            }
        }
        rmdir(path)
    }
}

@Suite("AtomicFile")
struct AtomicFileTests {
    @Test func writeThenReadReturnsExactBytes() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        var generator = SplitMix(seed: 42)
        // Larger than the 64 KiB read chunk, with every byte value, so chunk joins are checked.
        let bytes = (0..<200_003).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let path = "\(dir.path)/state.bin"
        try AtomicFile.write(bytes, to: path)
        #expect(try AtomicFile.read(path) == bytes)
    }

    @Test func replaceLeavesOnlyNewContentAndNoTempFiles() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = "\(dir.path)/registry.json"
        try AtomicFile.write(Array("old content that is longer".utf8), to: path)
        let before = try #require(FileStamp.of(path))
        try AtomicFile.write(Array("new".utf8), to: path)
        #expect(try AtomicFile.read(path) == Array("new".utf8))
        let after = try #require(FileStamp.of(path))
        // Rename over the target: a new inode, not an in-place truncate.
        #expect(after.inode != before.inode)
        #expect(after.size == 3)
        #expect(AtomicFile.entries(dir.path) == ["registry.json"])
    }

    @Test func emptyWriteCreatesEmptyFile() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let path = "\(dir.path)/empty"
        try AtomicFile.write([UInt8](), to: path)
        #expect(AtomicFile.exists(path))
        #expect(try AtomicFile.read(path) == [])
    }

    @Test func failedWriteThrowsNamingPathAndKeepsOldFile() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        // A parent that is a regular file: creating the temp file fails with ENOTDIR even as root.
        let blocker = "\(dir.path)/blocker"
        try AtomicFile.write(Array("keep me".utf8), to: blocker)
        let target = "\(blocker)/child.json"
        do {
            try AtomicFile.write(Array("x".utf8), to: target)
            Issue.record("write under a regular file succeeded")
        } catch {
            #expect(error.operation == "create")
            #expect(error.path.hasPrefix(target + ".tmp-"))
            #expect(error.description.contains(target))
            #expect(!error.reason.isEmpty)
        }
        #expect(try AtomicFile.read(blocker) == Array("keep me".utf8))
    }

    @Test func failedRenameKeepsOldTargetAndRemovesTemp() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        // The target is a non-empty directory: rename(file, dir) fails with EISDIR, after the temp file was written.
        let target = "\(dir.path)/target"
        try AtomicFile.makeDirectory(target)
        try AtomicFile.write(Array("inside".utf8), to: "\(target)/inner")
        do {
            try AtomicFile.write(Array("new".utf8), to: target)
            Issue.record("rename over a directory succeeded")
        } catch {
            #expect(error.operation == "rename")
            #expect(error.path == target)
        }
        #expect(AtomicFile.isDirectory(target))
        #expect(try AtomicFile.read("\(target)/inner") == Array("inside".utf8))
        #expect(AtomicFile.entries(dir.path) == ["target"])
    }

    @Test func readMissingFileReportsNotFound() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        do {
            _ = try AtomicFile.read("\(dir.path)/absent")
            Issue.record("read of a missing file succeeded")
        } catch {
            #expect(error.notFound)
            #expect(error.operation == "open")
            #expect(error.description == "cannot open \(dir.path)/absent: \(error.reason)")
        }
    }

    @Test func makeDirectoryCreatesMissingParentsAndIsIdempotent() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let nested = "\(dir.path)/a/b"
        try AtomicFile.makeDirectory(nested)
        #expect(AtomicFile.isDirectory(nested))
        try AtomicFile.makeDirectory(nested)
        #expect(AtomicFile.entries("\(dir.path)/a") == ["b"])
        rmdir(nested)
    }

    @Test func makeDirectoryOverFileThrows() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        let file = "\(dir.path)/plain"
        try AtomicFile.write(Array("x".utf8), to: file)
        #expect(throws: DurableFileError.self) { try AtomicFile.makeDirectory("\(file)/sub") }
    }

    @Test func parentDirectoryCases() {
        #expect(AtomicFile.parentDirectory(of: "/var/lib/x.json") == "/var/lib")
        #expect(AtomicFile.parentDirectory(of: "/x") == "/")
        #expect(AtomicFile.parentDirectory(of: "x") == ".")
        #expect(AtomicFile.parentDirectory(of: "a/b") == "a")
    }

    @Test func entriesOfMissingDirectoryIsNil() throws {
        let dir = try ScratchDirectory()
        defer { dir.remove() }
        #expect(AtomicFile.entries("\(dir.path)/none") == nil)
        #expect(AtomicFile.entries(dir.path) == [])
        #expect(!AtomicFile.exists("\(dir.path)/none"))
        #expect(FileStamp.of("\(dir.path)/none") == nil)
    }
}

/// A fixed-seed 64-bit generator (SplitMix64), so test data is the same on every run.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
