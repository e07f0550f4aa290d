extension SecurityConfig {
    /// The built-in roles (`predictor`, `viewer`, `deployer`, `admin`).
    public static var builtInRoleNames: [String] { RBACPolicy.builtIn.keys.sorted() }

    /// Every role a binding or API key may name under this configuration: the built-in roles plus those
    /// defined under `roles`.
    public var roleNames: [String] { Set(RBACPolicy.builtIn.keys).union(roles.keys).sorted() }
}

extension APIKeys {
    /// Seconds since the epoch of an `--expires` value, nil when it is not RFC 3339.
    public static func expiryTime(_ text: String) -> Double? { SecurityConfig.parseTimestamp(text) }
}
