internal import CSluiceProto

/// The FileDescriptorProtos of every proto file the server serves (and their imports), compiled in by
/// `proto/generate` (`sluice_served_descriptor_set`), indexed for server reflection: by file name and by every
/// fully-qualified symbol a file declares (packages' messages, nested messages, enums, services, methods,
/// extensions).
public struct ServedDescriptors: Sendable {
    /// One file of the set.
    public struct File: Sendable {
        /// The file's import path, e.g. `sluice/v1/inference.proto`.
        public let name: String
        /// The serialized FileDescriptorProto.
        public let bytes: [UInt8]
        /// The import paths it depends on.
        public let dependencies: [String]
    }

    /// The files in the order of the set (imports before the files that import them).
    public let files: [File]
    /// Position in `files` by import path.
    private let fileIndex: [String: Int]
    /// Position in `files` of the file declaring each fully qualified symbol (no leading dot): messages (nested ones
    /// too), enums, services, methods and extensions.
    private let symbolIndex: [String: Int]
    /// Extension numbers per extended type (`.pkg.Message` without the leading dot), with the file declaring each.
    private let extensionIndex: [String: [(number: Int32, file: Int)]]

    /// The set compiled into this binary.
    public static let compiled: ServedDescriptors = {
        let bytes = Array(
            UnsafeBufferPointer(start: sluice_served_descriptor_set(), count: sluice_served_descriptor_set_size()))
        return ServedDescriptors(descriptorSet: bytes)
    }()

    /// Indexes a serialized `google.protobuf.FileDescriptorSet`. Malformed parts are skipped (the set is
    /// generated at build time, not peer input).
    public init(descriptorSet: [UInt8]) {
        var files: [File] = []
        var fileIndex: [String: Int] = [:]
        var symbols: [String: Int] = [:]
        var extensions: [String: [(number: Int32, file: Int)]] = [:]
        for (field, value) in WireFields(descriptorSet) where field == 1 {
            guard case .bytes(let fileBytes) = value else { continue }
            let index = files.count
            var name = ""
            var package = ""
            var dependencies: [String] = []
            var declared: [(prefixed: Bool, name: String)] = []
            var nested: [(kind: Int, bytes: [UInt8])] = []
            for (fileField, fileValue) in WireFields(fileBytes) {
                guard case .bytes(let part) = fileValue else { continue }
                switch fileField {
                case 1: name = String(decoding: part, as: UTF8.self)
                case 2: package = String(decoding: part, as: UTF8.self)
                case 3: dependencies.append(String(decoding: part, as: UTF8.self))
                case 4, 5, 6, 7: nested.append((fileField, part))
                default: break
                }
            }
            let prefix = package.isEmpty ? "" : package + "."
            for (kind, part) in nested {
                switch kind {
                case 4: Self.indexMessage(part, scope: prefix, into: &declared, extensions: &extensions, file: index)
                case 5, 6:
                    let typeName = prefix + Self.name(of: part)
                    declared.append((false, typeName))
                    if kind == 6 {
                        for (methodField, method) in WireFields(part) where methodField == 2 {
                            if case .bytes(let methodBytes) = method {
                                declared.append((false, typeName + "." + Self.name(of: methodBytes)))
                            }
                        }
                    }
                case 7: Self.indexExtension(part, scope: prefix, into: &declared, extensions: &extensions, file: index)
                default: break
                }
            }
            for symbol in declared { symbols[symbol.name] = index }
            fileIndex[name] = index
            files.append(File(name: name, bytes: fileBytes, dependencies: dependencies))
        }
        self.files = files
        self.fileIndex = fileIndex
        self.symbolIndex = symbols
        self.extensionIndex = extensions
    }

    /// The `name` field (1) of a descriptor message.
    private static func name(of bytes: [UInt8]) -> String {
        for (field, value) in WireFields(bytes) where field == 1 {
            if case .bytes(let name) = value { return String(decoding: name, as: UTF8.self) }
        }
        return ""
    }

    /// Records a message, its nested messages (field 3) and enums (field 4) under their full names, and the extensions
    /// declared inside it (field 6), recursing into nested messages.
    private static func indexMessage(
        _ bytes: [UInt8], scope: String, into declared: inout [(prefixed: Bool, name: String)],
        extensions: inout [String: [(number: Int32, file: Int)]], file: Int
    ) {
        let full = scope + name(of: bytes)
        declared.append((false, full))
        for (field, value) in WireFields(bytes) {
            guard case .bytes(let part) = value else { continue }
            switch field {
            case 3: indexMessage(part, scope: full + ".", into: &declared, extensions: &extensions, file: file)
            case 4: declared.append((false, full + "." + name(of: part)))
            case 6: indexExtension(part, scope: full + ".", into: &declared, extensions: &extensions, file: file)
            default: break
            }
        }
    }

    /// Records an extension field's full name as a symbol and its number under the extended type (field 2 `extendee`,
    /// leading dot removed; field 3 `number`).
    private static func indexExtension(
        _ bytes: [UInt8], scope: String, into declared: inout [(prefixed: Bool, name: String)],
        extensions: inout [String: [(number: Int32, file: Int)]], file: Int
    ) {
        var extendee = ""
        var number: Int32 = 0
        for (field, value) in WireFields(bytes) {
            switch (field, value) {
            case (2, .bytes(let name)): extendee = String(decoding: name, as: UTF8.self)
            case (3, .varint(let value)): number = Int32(truncatingIfNeeded: value)
            default: break
            }
        }
        declared.append((false, scope + name(of: bytes)))
        if extendee.hasPrefix(".") { extendee.removeFirst() }
        if !extendee.isEmpty { extensions[extendee, default: []].append((number, file)) }
    }

    /// The file with this import path and every file it depends on, transitively (the file first).
    public func file(named name: String) -> [File]? {
        fileIndex[name].map(closure)
    }

    /// The file declaring this fully-qualified symbol (`pkg.Message`, `pkg.Service`, `pkg.Service.Method`), with
    /// its dependencies.
    public func file(containingSymbol symbol: String) -> [File]? {
        let trimmed = symbol.hasPrefix(".") ? String(symbol.dropFirst()) : symbol
        return symbolIndex[trimmed].map(closure)
    }

    /// The file declaring extension `number` of `type`, with its dependencies.
    public func file(extending type: String, number: Int32) -> [File]? {
        extensionIndex[type]?.first(where: { $0.number == number }).map { closure($0.file) }
    }

    /// The extension numbers declared for `type` (`nil` when the type is unknown).
    public func extensionNumbers(of type: String) -> [Int32]? {
        guard symbolIndex[type] != nil else { return nil }
        return (extensionIndex[type] ?? []).map(\.number)
    }

    /// The file at `index` followed by its transitive dependencies, breadth-first, each once; dependencies missing from
    /// the set are skipped.
    private func closure(_ index: Int) -> [File] {
        var seen: Set<Int> = [index]
        var order = [index]
        var next = 0
        while next < order.count {
            for dependency in files[order[next]].dependencies {
                if let found = fileIndex[dependency], seen.insert(found).inserted { order.append(found) }
            }
            next += 1
        }
        return order.map { files[$0] }
    }
}

/// The top-level fields of a protobuf message, as (field number, value); stops at the first malformed byte.
struct WireFields: Sequence, IteratorProtocol {
    enum Value {
        /// Wire type 0.
        case varint(UInt64)
        /// Wire type 2 (length-delimited): strings, bytes and nested messages, copied out.
        case bytes([UInt8])
        /// Wire types 1 and 5 (64- and 32-bit); skipped, since the descriptor fields read here never use them.
        case fixed
    }

    /// The message being walked.
    private let bytes: [UInt8]
    /// Read position in `bytes`.
    private var offset = 0

    /// Walks `bytes` from the start; nothing is parsed until iteration.
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Reads a base-128 varint at `offset`; nil when the bytes end first or it runs past 64 bits.
    private mutating func varint() -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        return nil
    }

    /// The next (field number, value), or nil at the end, at a malformed field, or at a group (wire types 3 and 4).
    mutating func next() -> (Int, Value)? {
        guard offset < bytes.count, let key = varint() else { return nil }
        let field = Int(key >> 3)
        switch key & 7 {
        case 0:
            guard let value = varint() else { return nil }
            return (field, .varint(value))
        case 1:
            guard offset + 8 <= bytes.count else { return nil }
            offset += 8
            return (field, .fixed)
        case 2:
            guard let length = varint(), length <= UInt64(bytes.count - offset) else { return nil }
            let start = offset
            offset += Int(length)
            return (field, .bytes(Array(bytes[start..<offset])))
        case 5:
            guard offset + 4 <= bytes.count else { return nil }
            offset += 4
            return (field, .fixed)
        default:
            return nil
        }
    }
}
