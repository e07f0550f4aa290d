import Testing

@testable import Auth

/// Built-in roles × RPCs × model patterns, through `AuthService.authorize` with API-key principals.
@Suite("RBAC")
struct RBACPolicyTests {
    static let rpcs: [AuthRPC] = [.predict, .batchPredict, .getModelVersion, .rollout]
    static let models = ["churn", "fraud-eu", "fraud-us", "fraudster", "credit"]

    /// The expected permission of each role, written out independently of the implementation's tables.
    static func expected(role: String, rpc: AuthRPC, model: String) -> Bool {
        switch role {
        case "admin": return true
        case "predictor": return rpc != .rollout
        case "viewer": return rpc == .getModelVersion
        case "deployer": return rpc == .getModelVersion || rpc == .rollout
        case "fraud-predictor": return (rpc == .predict || rpc == .batchPredict) && model.hasPrefix("fraud-")
        case "churn-viewer": return rpc == .getModelVersion && model == "churn"
        case "eu-all": return model.hasSuffix("-eu")
        default: return false
        }
    }

    static let roles = [
        "admin", "predictor", "viewer", "deployer", "fraud-predictor", "churn-viewer", "eu-all", "none",
    ]

    let service: AuthService
    let keys: [String: String]

    init() throws {
        var config = SecurityConfig()
        config.roles = [
            "fraud-predictor": [.init(rpc: "Predict", model: "fraud-*"), .init(rpc: "BatchPredict", model: "fraud-*")],
            "churn-viewer": [.init(rpc: "GetModelVersion", model: "churn")],
            "eu-all": [.init(rpc: "*", model: "*-eu")],
        ]
        var keys: [String: String] = [:]
        for role in Self.roles {
            let key = "key-for-\(role)"
            keys[role] = key
            config.apiKeys.append(
                .init(
                    id: "id-\(role)", sha256: Crypto.sha256(key), principal: "p-\(role)",
                    roles: role == "none" ? [] : [role], expires: nil))
        }
        self.keys = keys
        service = try AuthService(config: config)
    }

    @Test("every role × RPC × model gets exactly the expected decision", arguments: roles)
    func matrix(role: String) throws {
        let key = try #require(keys[role])
        for rpc in Self.rpcs {
            for model in Self.models {
                let d = service.authorize(AuthRequest(rpc: rpc, model: model, apiKey: key))
                let want = Self.expected(role: role, rpc: rpc, model: model)
                switch d {
                case .allowed:
                    #expect(want, "\(role) was allowed \(rpc.name) on \(model)")
                case .denied(let denial):
                    #expect(!want, "\(role) was denied \(rpc.name) on \(model): \(denial.reason)")
                    #expect(denial.code == .permissionDenied)
                    #expect(denial.code.grpcStatus == 7)
                    #expect(denial.message == "permission denied: \(rpc.name) on model \"\(model)\"")
                    #expect(denial.principalName == "p-\(role)")
                }
            }
        }
    }

    @Test("Open Inference RPCs take the decision of the permission they share", arguments: roles)
    func openInferenceSharesPermissions(role: String) throws {
        let key = try #require(keys[role])
        for (rpc, permission) in [(AuthRPC.modelInfer, AuthRPC.predict), (.modelMetadata, .getModelVersion)] {
            #expect(rpc.permission == permission)
            #expect(rpc.rateClass == permission.rateClass)
            #expect(AuthRPC(name: rpc.name) == nil)  // policies name the shared permission, not the OIP RPC
            for model in Self.models {
                let decision = service.authorize(AuthRequest(rpc: rpc, model: model, apiKey: key))
                let want = Self.expected(role: role, rpc: permission, model: model)
                switch decision {
                case .allowed:
                    #expect(want, "\(role) was allowed \(rpc.name) on \(model)")
                case .denied(let denial):
                    #expect(!want, "\(role) was denied \(rpc.name) on \(model): \(denial.reason)")
                    #expect(denial.message
                        == "permission denied: \(rpc.name) on model \"\(model)\" (needs the \(permission.name) permission)")
                }
            }
        }
    }

    @Test("model patterns: exact, prefix, suffix glob, any")
    func patterns() {
        #expect(ModelPattern("churn").matches("churn"))
        #expect(!ModelPattern("churn").matches("churn2"))
        #expect(ModelPattern("fraud-*").matches("fraud-"))
        #expect(!ModelPattern("fraud-*").matches("fraud"))
        #expect(ModelPattern("*").matches(""))
        #expect(ModelPattern("*-eu").matches("x-eu") && !ModelPattern("*-eu").matches("x-us"))
        #expect(ModelPattern("a*b*c").matches("abc") && ModelPattern("a*b*c").matches("a-b-c"))
        #expect(!ModelPattern("a*b*c").matches("ac") && !ModelPattern("ab*ba").matches("aba"))
    }

    @Test("JWT role claims map through jwtRole bindings; subject bindings respect the method")
    func bindings() throws {
        let pki = try TestPKI.shared()
        let path = pki.writeConfig(
            """
            {\(pki.jwtSection),
             "bindings": [{"jwtRole": "ml-team", "roles": ["deployer"]},
                          {"subject": "CN=batch-job,O=Acme", "method": "mtls", "roles": ["predictor"]},
                          {"subject": "carol", "roles": ["viewer"]}]}
            """)
        let s = try AuthService(configPath: path)
        let t = try pki.mint(
            header: TestPKI.header(alg: "HS256", kid: "hs-1"),
            payload: TestPKI.claims(sub: "carol", extra: "\"roles\":[\"ml-team\"]"), signer: .hmac(pki.hmacSecret))
        let p = try #require(
            s.authorize(AuthRequest(rpc: .rollout, model: "churn", authorization: "Bearer " + t)).principal)
        #expect(p.roles == ["deployer", "viewer"])
        // mTLS subject → predictor; the same subject via a header-less call with another method gets nothing.
        let m = s.authorize(AuthRequest(rpc: .predict, model: "churn", mtlsSubject: "CN=batch-job,O=Acme"))
        #expect(m.principal?.method == .mtls && m.principal?.roles == ["predictor"])
        let other = s.authorize(AuthRequest(rpc: .predict, model: "churn", mtlsSubject: "CN=someone-else"))
        guard case .denied(let d) = other else { Issue.record("unbound mTLS subject allowed"); return }
        #expect(d.code == .permissionDenied)
    }

    @Test("health checks are open by default and closed on request")
    func health() throws {
        let open = try AuthService(config: SecurityConfig())
        #expect(open.authorize(AuthRequest(rpc: .health, model: "")).principal?.name == "anonymous")
        var c = SecurityConfig()
        c.healthOpen = false
        c.apiKeys = [.init(id: "k", sha256: Crypto.sha256("k1"), principal: "p", roles: [], expires: nil)]
        let closed = try AuthService(config: c)
        guard case .denied(let d) = closed.authorize(AuthRequest(rpc: .health, model: "")) else {
            Issue.record("closed health allowed without credentials")
            return
        }
        #expect(d.code == .unauthenticated)
        // Any authenticated principal may check health, even without roles.
        #expect(closed.authorize(AuthRequest(rpc: .health, model: "", apiKey: "k1")).principal?.name == "p")
    }

    @Test("insecure mode allows everything as anonymous and says so")
    func insecure() {
        let s = AuthService.insecure()
        #expect(s.isInsecure)
        #expect(s.modeDescription.contains("INSECURE"))
        let p = s.authorize(AuthRequest(rpc: .rollout, model: "anything", authorization: "Bearer garbage")).principal
        #expect(p?.name == "anonymous" && p?.method == AuthMethod.none)
    }
}
