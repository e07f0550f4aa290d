import ArgumentParser
import Auth
import FoundationEssentials

/// `sluice keys`: API-key tooling.
///
/// Works offline: it prints configuration entries for an operator to add, and never edits a security configuration
/// or talks to a server.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Manage API keys for the security configuration.",
        subcommands: [Create.self]
    )

    /// `sluice keys create --principal partner-a --role predictor`: prints a new key once, and the entry to add
    /// under `apiKeys` in the security configuration (which stores only the key's SHA-256).
    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API key: prints the key once and the configuration entry to add."
        )

        @Option(help: "The principal the key authenticates as (used in bindings, rate limits and the audit log).")
        var principal: String

        @Option(
            name: .customLong("role"), help: "A role to grant (repeatable), e.g. predictor, viewer, deployer, admin.")
        var roles: [String] = []

        /// Shown in audit records; the default appends 32 random bits in hex to the principal.
        @Option(help: "Key id shown in audit records (default: <principal>-<random>).")
        var id: String?

        /// Must lie in the future (checked in `run()`); a key without it never expires.
        @Option(help: "Expiry as RFC 3339, e.g. 2027-01-31T00:00:00Z (default: none); must be in the future.")
        var expires: String?

        /// Without it, role names are only compared with the built-in roles, and unknown ones get a warning.
        @Option(
            name: .customLong("security-config"),
            help: "Security configuration the key is for: every --role must be defined there (or built in).")
        var securityConfig: String?

        /// Requires a non-empty `--principal` and at least one `--role`.
        func validate() throws {
            if principal.isEmpty { throw ValidationError("--principal must not be empty") }
            if roles.isEmpty { throw ValidationError("give at least one --role (e.g. --role predictor)") }
        }

        /// Checks the roles and the expiry, creates the key and prints it once with its configuration entry.
        ///
        /// The key itself is never stored; the printed entry holds only its SHA-256, so a lost key cannot be recovered,
        /// only replaced. Without `--id` the key id is the principal and a random 32-bit hex suffix.
        ///
        /// - Throws: `ValidationError` for an unknown role, an expiry in the past or one that is not RFC 3339.
        func run() throws {
            try checkRoles()
            // A key that is already expired would never authenticate anyone (the library still writes such entries
            // for tests of expiry handling; the CLI does not).
            if let expires, let time = APIKeys.expiryTime(expires), time <= Date().timeIntervalSince1970 {
                throw ValidationError("--expires \"\(expires)\" is in the past: the key would never work")
            }
            let keyID = id ?? "\(principal)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
            let created: APIKeys.Created
            do {
                created = try APIKeys.create(id: keyID, principal: principal, roles: roles, expires: expires)
            } catch {
                throw ValidationError(error.description)
            }
            print("API key (shown only now; give it to \(principal) over a secure channel):")
            print("  \(created.key)")
            print("")
            print("Add this entry to \"apiKeys\" in the security configuration, then reload (SIGHUP):")
            print("  \(created.configEntry)")
        }

        /// Unknown roles are refused against the given policy; without one, a role that is not built in is a
        /// warning (it may be defined in a policy file this command was not shown).
        private func checkRoles() throws {
            if let securityConfig {
                let config: SecurityConfig
                do { config = try SecurityConfig.load(path: securityConfig) } catch {
                    throw ValidationError("--security-config: \(error)")
                }
                let known = config.roleNames
                for role in roles where !known.contains(role) {
                    throw ValidationError(
                        "--role \(role): no such role in \(securityConfig) (known roles: \(known.joined(separator: ", ")))")
                }
            } else {
                let known = SecurityConfig.builtInRoleNames
                for role in roles where !known.contains(role) {
                    FileAccess.writeStandardError(
                        "warning: --role \(role) is not a built-in role (\(known.joined(separator: ", "))); it must be defined under \"roles\" in your security configuration (pass --security-config FILE to check)\n")
                }
            }
        }
    }
}
