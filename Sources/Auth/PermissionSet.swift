import FoundationEssentials

/// A model-name pattern: exact (`churn`), prefix (`fraud-*`), any (`*`), or a general `*` glob (`*-eu`).
struct ModelPattern: Sendable, Equatable {
    /// The compiled form of the pattern, chosen once at init so the common cases avoid the general glob walk.
    private enum Kind: Sendable, Equatable {
        case any
        case exact(String)
        case prefix(String)
        case glob([Substring])
    }
    private let kind: Kind

    /// Compiles `text`: `*` alone is any, no `*` is exact, a single trailing `*` is a prefix, anything else a glob.
    init(_ text: String) {
        if text == "*" {
            kind = .any
        } else if !text.contains("*") {
            kind = .exact(text)
        } else if text.hasSuffix("*"), text.firstIndex(of: "*") == text.index(before: text.endIndex) {
            kind = .prefix(String(text.dropLast()))
        } else {
            kind = .glob(text.split(separator: "*", omittingEmptySubsequences: false))
        }
    }

    /// True for `*`.
    var matchesEverything: Bool { kind == .any }

    /// True when `model` (a model name, compared byte-for-byte and case-sensitively) fits the pattern.
    func matches(_ model: String) -> Bool {
        switch kind {
        case .any: return true
        case .exact(let s): return model == s
        case .prefix(let p): return model.hasPrefix(p)
        case .glob(let parts): return Self.glob(parts, model)
        }
    }

    /// `parts` are the pieces between `*`s: the first must be a prefix, the last a suffix, the rest in order.
    private static func glob(_ parts: [Substring], _ s: String) -> Bool {
        guard let first = parts.first, let last = parts.last, parts.count >= 2 else { return false }
        guard s.hasPrefix(first), s.count >= first.count + last.count else { return false }
        var rest = s.dropFirst(first.count)
        guard rest.hasSuffix(last) else { return false }
        rest = rest.dropLast(last.count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let r = rest.firstRange(of: part) else { return false }
            rest = rest[r.upperBound...]
        }
        return true
    }
}

/// The compiled permissions of a principal's roles: allowed RPCs on model patterns. Default deny.
struct PermissionSet: Sendable {
    struct Entry: Sendable {
        /// Bit per `AuthRPC.policyRPCs` index.
        let rpcMask: UInt8
        /// The models on which the RPCs in `rpcMask` are allowed.
        let model: ModelPattern
    }
    /// One entry per configured permission, in configuration order; any match allows (there are no deny entries).
    let entries: [Entry]
    /// RPC bits allowed on every model (`*` patterns): answered without looking at `entries`.
    let anyModelMask: UInt8

    /// Allows nothing: a principal whose roles grant no permissions.
    static let empty = PermissionSet(entries: [])

    /// The mask bit for `rpc`. OIP `ModelInfer` shares `Predict`'s bit and model metadata shares `GetModelVersion`'s,
    /// so one permission governs both protocols.
    static func bit(_ rpc: AuthRPC) -> UInt8 {
        switch rpc {
        case .predict, .modelInfer: 1
        case .batchPredict: 2
        case .getModelVersion, .modelMetadata: 4
        case .rollout: 8
        case .health: 16
        }
    }

    /// Precomputes `anyModelMask` from the entries whose model pattern is `*`.
    init(entries: [Entry]) {
        self.entries = entries
        anyModelMask = entries.reduce(0) { $0 | ($1.model.matchesEverything ? $1.rpcMask : 0) }
    }

    /// Compiles configured permissions. An `rpc` of `*` sets the four policy RPC bits (0x0F) but not health, which
    /// `SecurityConfig.Health` governs; an unknown RPC name grants nothing.
    init(permissions: [SecurityConfig.Permission]) {
        self.init(
            entries: permissions.map { p in
                let mask: UInt8 = p.rpc == "*" ? 0x0F : AuthRPC(name: p.rpc).map(Self.bit) ?? 0
                return Entry(rpcMask: mask, model: ModelPattern(p.model))
            })
    }

    /// True when some entry allows `rpc` on `model`. Per-call path: no allocation; `*` grants take one mask test.
    @inline(__always)
    func allows(_ rpc: AuthRPC, model: String) -> Bool {
        let b = Self.bit(rpc)
        if anyModelMask & b != 0 { return true }
        for e in entries where e.rpcMask & b != 0 && e.model.matches(model) { return true }
        return false
    }
}
