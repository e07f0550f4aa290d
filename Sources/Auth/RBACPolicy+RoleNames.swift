extension SecurityConfig {
    /// The built-in roles (`predictor`, `viewer`, `deployer`, `admin`).
    public static var builtInRoleNames: [String] { RBACPolicy.builtIn.keys.sorted() }

    /// Every role a binding or API key may name under this configuration: the built-in roles plus those
    /// defined under `roles`.
    public var roleNames: [String] { Set(RBACPolicy.builtIn.keys).union(roles.keys).sorted() }
}
