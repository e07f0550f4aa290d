/// Roles and bindings from the configuration, with the built-in example roles. Resolves a principal's
/// effective roles and compiles them into a `PermissionSet`.
struct RBACPolicy: Sendable {
    /// Built-in roles; a configured role of the same name replaces one.
    static let builtIn: [String: [SecurityConfig.Permission]] = [
        "predictor": [
            .init(rpc: "Predict", model: "*"), .init(rpc: "BatchPredict", model: "*"),
            .init(rpc: "GetModelVersion", model: "*"),
        ],
        "viewer": [.init(rpc: "GetModelVersion", model: "*")],
        "deployer": [.init(rpc: "GetModelVersion", model: "*"), .init(rpc: "Rollout", model: "*")],
        "admin": [.init(rpc: "*", model: "*")],
    ]

    let roles: [String: [SecurityConfig.Permission]]
    let bindings: [SecurityConfig.Binding]

    init(config: SecurityConfig) throws(SecurityConfigError) {
        var roles = Self.builtIn
        for (name, perms) in config.roles { roles[name] = perms }
        self.roles = roles
        self.bindings = config.bindings
        for (k, b) in config.bindings.enumerated() {
            for r in b.roles where roles[r] == nil {
                throw SecurityConfigError(
                    "\(config.source): bindings[\(k)]: unknown role \"\(r)\" (define it under \"roles\")")
            }
        }
        for key in config.apiKeys {
            for r in key.roles where roles[r] == nil {
                throw SecurityConfigError("\(config.source): apiKeys \"\(key.id)\": unknown role \"\(r)\"")
            }
        }
    }

    /// Effective roles: `direct` (API-key roles, or JWT claim values naming a defined role) plus the roles of
    /// every binding matching the subject (and method) or one of the JWT claim roles. Sorted, unique.
    func effectiveRoles(subject: String, method: AuthMethod, direct: [String], claimRoles: [String]) -> [String] {
        var out = Set(direct.filter { roles[$0] != nil })
        for b in bindings where matches(b, subject: subject, method: method, claimRoles: claimRoles) {
            out.formUnion(b.roles)
        }
        return out.sorted()
    }

    func matches(_ b: SecurityConfig.Binding, subject: String, method: AuthMethod, claimRoles: [String]) -> Bool {
        if let s = b.subject { return s == subject && (b.method == nil || b.method == method) }
        if let r = b.jwtRole { return method == .jwt && claimRoles.contains(r) }
        return false
    }

    func permissions(for roleNames: [String]) -> PermissionSet {
        PermissionSet(permissions: roleNames.flatMap { roles[$0] ?? [] })
    }
}
