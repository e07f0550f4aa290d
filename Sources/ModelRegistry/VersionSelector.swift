/// Which version of a model a request names.
///
/// Accepted forms: `""` (routing decides), `"7"`, `"production"` / `"staging"` (any case), `"@champion"`,
/// and the URIs `models:/churn/7`, `models:/churn/Production`, `models:/churn@champion`.
public enum VersionSelector: Hashable, Sendable, CustomStringConvertible {
    /// Let traffic routing decide: the active rollout's split, else the Production version.
    case routed
    /// An explicit version number (`"7"`, `models:/churn/7`); always positive.
    case version(Int64)
    /// Whichever version holds this stage; only `production` and `staging` parse (any case).
    case stage(Stage)
    /// The version a registry alias points at (`@champion`), stored without the `@`.
    case alias(String)

    /// A parsed selector plus the model name a URI carried, if any.
    public struct Parsed: Hashable, Sendable {
        /// The model name from a `models:/` URI; nil for the bare forms, which leave the model to the request.
        public var model: String?
        /// The version part; never `.routed` when `model` came from a URI.
        public var selector: VersionSelector
    }

    /// Parses a selector string; URIs also yield the model name they contain.
    public static func parse(_ text: String) throws(RegistryError) -> Parsed {
        if text.isEmpty { return Parsed(model: nil, selector: .routed) }
        if text.hasPrefix("models:/") {
            let rest = text.dropFirst("models:/".count)
            if let at = rest.firstIndex(of: "@") {
                let model = String(rest[..<at])
                let alias = String(rest[rest.index(after: at)...])
                try validateModelName(model, in: text)
                try validateAlias(alias, in: text)
                return Parsed(model: model, selector: .alias(alias))
            }
            let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw RegistryError(
                    .invalidArgument,
                    "version selector \"\(text)\" is not a model URI; use models:/NAME/VERSION, models:/NAME/STAGE or models:/NAME@ALIAS"
                )
            }
            let model = String(parts[0])
            try validateModelName(model, in: text)
            let inner = try parse(String(parts[1]))
            guard inner.model == nil, inner.selector != .routed else {
                throw RegistryError(.invalidArgument, "version selector \"\(text)\" has an invalid version part")
            }
            return Parsed(model: model, selector: inner.selector)
        }
        if text.hasPrefix("@") {
            let alias = String(text.dropFirst())
            try validateAlias(alias, in: text)
            return Parsed(model: nil, selector: .alias(alias))
        }
        if let stage = Stage(parsing: text), stage == .production || stage == .staging {
            return Parsed(model: nil, selector: .stage(stage))
        }
        if text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let number = Int64(text) {
            guard number > 0 else {
                throw RegistryError(.invalidArgument, "version selector \"\(text)\": versions are positive integers")
            }
            return Parsed(model: nil, selector: .version(number))
        }
        throw RegistryError(
            .invalidArgument,
            "version selector \"\(text)\" is not understood; use a version number, production, staging, @ALIAS or a models:/ URI"
        )
    }

    /// The selector as logs and error messages show it: `(routed)`, `7`, the stage's raw value, or `@alias`.
    public var description: String {
        switch self {
        case .routed: return "(routed)"
        case .version(let number): return String(number)
        case .stage(let stage): return stage.rawValue
        case .alias(let alias): return "@" + alias
        }
    }

    /// Model names: letters, digits, `_`, `-`, `.`; 1–128 characters; no leading dot.
    public static func validateModelName(_ name: String, in context: String? = nil) throws(RegistryError) {
        let ok =
            !name.isEmpty && name.utf8.count <= 128 && !name.hasPrefix(".")
            && name.utf8.allSatisfy { byte in
                (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                    || byte == 95 || byte == 45 || byte == 46
            }
        guard ok else {
            let suffix = context.map { " in \"\($0)\"" } ?? ""
            throw RegistryError(
                .invalidArgument,
                "model name \"\(name)\"\(suffix) is invalid: use 1-128 letters, digits, '_', '-' or '.'")
        }
    }

    /// Aliases: `[a-z0-9_-]+`, up to 64 characters.
    public static func validateAlias(_ alias: String, in context: String? = nil) throws(RegistryError) {
        let ok =
            !alias.isEmpty && alias.utf8.count <= 64
            && alias.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 122) || $0 == 95 || $0 == 45 }
        guard ok else {
            let suffix = context.map { " in \"\($0)\"" } ?? ""
            throw RegistryError(.invalidArgument, "alias \"\(alias)\"\(suffix) is invalid: use [a-z0-9_-]+")
        }
    }
}
