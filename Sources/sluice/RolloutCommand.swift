import ArgumentParser
import FoundationEssentials
import GRPCClient
import GRPCCore
import SluiceProto
import TLS

#if canImport(Glibc)
    import Glibc
#endif
import TextFormats

/// `sluice rollout ...`: drive a canary or A/B rollout on running servers over gRPC (the `Rollout` RPC).
///
/// Every subcommand builds one `RolloutRequest` (the action and its parameters) and reaches the servers through
/// ``ServerOptions``; the server does all validation and judging, so the CLI only checks the syntax of its
/// arguments. gRPC failures are printed as `CODE: message` (``runRolloutCommand(_:)``).
struct RolloutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Start, follow and steer canary and A/B rollouts on running servers.",
        discussion: """
            A client of the Rollout RPC. Commands go to one replica (the first that answers): replicas sharing a \
            registry directory share the rollout. `status` asks every replica (--replicas) and shows each one's \
            view and the fleet's sums. `watch` follows a rollout until it ends: exit status 0 when it was \
            promoted or completed, 2 when it rolled back, 1 on errors (so CI can gate on it).
            Credentials come from files or the environment, never from arguments: --api-key-file or \
            $SLUICE_API_KEY (sent as x-api-key), --token-file (a JWT, sent as a bearer token).
            """,
        subcommands: [
            Start.self, Status.self, Advance.self, SetWeights.self, Pause.self, Resume.self, Rollback.self,
            Promote.self,
            Watch.self,
        ]
    )
}

/// How to reach the servers: addresses, TLS and credentials (shared by every `rollout` subcommand).
struct ServerOptions: ParsableArguments {
    /// Used when `--replicas` is absent: one server, its host not resolved to several addresses.
    @Option(name: .long, help: "Server address HOST:PORT. (default: 127.0.0.1:50051)")
    var server: String?

    /// Takes precedence over `--server`; each name is resolved, and every address it resolves to is a replica (the TLS
    /// name stays the name given).
    @Option(
        name: .long,
        help:
            "Replicas: HOST:PORT,HOST:PORT,... or NAME:PORT where NAME resolves to several addresses (a headless Service)."
    )
    var replicas: String?

    /// Excludes `--ca`, `--client-cert` and `--client-key` (checked in ``clients()``).
    @Flag(name: .long, help: "Cleartext HTTP/2 (h2c) instead of TLS.")
    var plaintext = false

    /// `nil`: the system's trusted CAs.
    @Option(name: .long, help: "PEM CA that signed the servers' certificates. (default: the system's CAs)")
    var ca: String?

    @Option(name: .customLong("client-cert"), help: "PEM client certificate, for servers that require mTLS.")
    var clientCert: String?

    /// Required with `--client-cert`, and only with it (checked when the TLS context is built).
    @Option(name: .customLong("client-key"), help: "PEM key of --client-cert.")
    var clientKey: String?

    /// `nil`: the host as given in `--server` or `--replicas`, also when the name resolved to several addresses.
    @Option(name: .customLong("server-name"), help: "Name the server certificate must carry. (default: the host)")
    var serverName: String?

    /// Read at each command; the key is trimmed of surrounding whitespace and must not be empty.
    @Option(name: .customLong("api-key-file"), help: "File holding an API key (or set $SLUICE_API_KEY).")
    var apiKeyFile: String?

    /// Sent as `authorization: Bearer <token>`, beside the API key when both are given.
    @Option(name: .customLong("token-file"), help: "File holding a JWT, sent as 'authorization: Bearer'.")
    var tokenFile: String?

    /// Seconds to wait for each answer: sent as the `grpc-timeout` deadline and used as the connection timeout;
    /// `watch` tolerates a run of timed-out polls before it gives up.
    @Option(name: .long, help: "Seconds to wait for each answer. (default: 10)")
    var timeout: Double = 10

    /// The credential headers from the files or the environment.
    ///
    /// `--api-key-file` wins over `$SLUICE_API_KEY`; file contents are trimmed of surrounding whitespace.
    ///
    /// - Throws: ``CLIError`` when a credential file cannot be read or is empty.
    func metadata() throws -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        func secret(_ path: String, _ what: String) throws -> String {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CLIError(message: "cannot read \(what) file '\(path)'")
            }
            let value = text.trimmingWhitespace()
            guard !value.isEmpty else { throw CLIError(message: "\(what) file '\(path)' is empty") }
            return value
        }
        if let apiKeyFile {
            out.append(("x-api-key", try secret(apiKeyFile, "API key")))
        } else if let key = ProcessInfo.processInfo.environment["SLUICE_API_KEY"], !key.isEmpty {
            out.append(("x-api-key", key))
        }
        if let tokenFile { out.append(("authorization", "Bearer " + (try secret(tokenFile, "token")))) }
        return out
    }

    /// One client per replica address.
    ///
    /// With `--replicas` every name is resolved and each distinct address becomes a client; `--server` is used as
    /// given. A client opens a connection for each call, so making one costs no network round trip.
    ///
    /// - Throws: ``CLIError`` for a malformed address, a name that does not resolve, `--plaintext` combined with TLS
    ///   files, or TLS files that do not load.
    func clients() throws -> [GRPCClient] {
        let tls: TLSClientContext?
        if plaintext {
            guard ca == nil, clientCert == nil, clientKey == nil else {
                throw CLIError(message: "--plaintext excludes --ca, --client-cert and --client-key")
            }
            tls = nil
        } else {
            do { tls = try TLSClientContext(caPath: ca, certificatePath: clientCert, keyPath: clientKey) } catch {
                throw CLIError(message: error.message)
            }
        }
        let metadata = try metadata()
        var addresses: [(host: String, port: UInt16, name: String)] = []
        for item in (replicas ?? server ?? "127.0.0.1:50051").split(separator: ",") {
            let (host, port) = try Self.split(item.trimmingSpaces())
            let resolved: [String]
            if replicas != nil {
                do { resolved = try GRPCClient.resolve(host) } catch { throw CLIError(message: error.message) }
            } else {
                resolved = [host]
            }
            for address in resolved where !addresses.contains(where: { $0.host == address && $0.port == port }) {
                addresses.append((address, port, host))
            }
        }
        guard !addresses.isEmpty else { throw CLIError(message: "no server address") }
        return addresses.map { address in
            // A name resolved to addresses is still verified against the name.
            GRPCClient(
                host: address.host, port: address.port, tls: tls, serverName: serverName ?? address.name,
                metadata: metadata, timeoutSeconds: timeout)
        }
    }

    /// `HOST:PORT` or `[IPv6]:PORT`.
    ///
    /// - Throws: ``CLIError`` when the port is missing, 0 or above 65535, or the host is empty.
    static func split(_ text: String) throws -> (String, UInt16) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else {
            throw CLIError(message: "'\(text)': expected HOST:PORT, e.g. 127.0.0.1:50051")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw CLIError(message: "'\(text)': the host is missing") }
        return (host, port)
    }
}

/// Sends `request` to the first replica that answers (another replica is tried only when one is unreachable).
///
/// Replicas sharing a registry share the rollout, so any one of them may take a command. Only UNAVAILABLE moves on
/// to the next replica; any other status is the server's answer and is thrown as is.
///
/// - Throws: ``CLIError`` when every replica was unavailable; `RPCError` for any other failure.
func sendRollout(_ request: RolloutRequestMessage, _ options: ServerOptions) throws -> RolloutResponseMessage {
    let clients = try options.clients()
    var last: RPCError?
    for client in clients {
        do {
            return try call(client, request)
        } catch let error as RPCError where error.code == .unavailable {
            last = error
        }
    }
    throw CLIError(message: "\(last?.code.description ?? "UNAVAILABLE"): \(last?.message ?? "no replica answered")")
}

/// One Rollout RPC.
///
/// - Throws: The call's `RPCError`; INTERNAL when the answer is not a `RolloutResponse`.
func call(_ client: GRPCClient, _ request: RolloutRequestMessage) throws -> RolloutResponseMessage {
    let bytes = try client.unary(path: "/sluice.v1.Inference/Rollout", request: request.encoded())
    do { return try bytes.withUnsafeBytes { try RolloutResponseMessage(decoding: $0) } } catch {
        throw RPCError(.internal, "\(client.address) answered with an undecodable RolloutResponse")
    }
}

/// Runs a subcommand body, printing gRPC failures as `CODE: message` and exiting 1.
func runRolloutCommand(_ body: () throws -> Void) throws {
    do { try body() } catch let error as RPCError {
        throw CLIError(message: "\(error.code): \(error.message)")
    }
}

/// Display names of `RolloutResponse.state`, indexed by the wire value (0 = no rollout).
let stateNames = ["NONE", "RUNNING", "PAUSED", "ROLLED_BACK", "PROMOTED", "COMPLETED"]
/// The display name of a rollout state; an unknown value (a newer server) prints as its number.
func stateName(_ state: UInt32) -> String { Int(state) < stateNames.count ? stateNames[Int(state)] : "\(state)" }

/// The rollout as text: header, variants with the fleet's statistics, last decision.
func describe(_ r: RolloutResponseMessage) -> String {
    guard r.state != 0 else { return "model \(r.model): no rollout" }
    var lines: [String] = []
    let strategy = r.strategy == 1 ? "canary" : "A/B test"
    var header = "model \(r.model)  \(strategy) \(r.rolloutID)  \(stateName(r.state))"
    if r.strategy == 1, !r.steps.isEmpty {
        header +=
            "  step \(Int(r.stepIndex) + 1)/\(r.steps.count) (\(format(r.steps[Int(min(r.stepIndex, UInt32(r.steps.count - 1)))].percent))%)"
    }
    if r.auto { header += "  auto" }
    header += "  generation \(r.generation)"
    lines.append(header)
    lines.append(
        "  " + pad("variant", 12) + pad("version", 9) + pad("weight", 9) + pad("requests", 10) + pad("errors", 8)
            + pad("error%", 8) + "p99 ms")
    for v in r.variants {
        lines.append(
            "  " + pad(v.name + (v.shadow ? " (shadow)" : ""), 12) + pad(String(v.version), 9)
                + pad(format(v.weight) + "%", 9) + pad(String(v.overall.requests), 10)
                + pad(String(v.overall.errors), 8)
                + pad(format(v.overall.errorRate * 100), 8) + format(v.overall.p99Ms))
    }
    if !r.lastDecision.isEmpty { lines.append("  last decision: \(r.lastDecision)") }
    return lines.joined(separator: "\n")
}

/// Left-aligns `text` in a column of `width` characters; longer text keeps one trailing space as a separator.
func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

/// A number for a table: whole values without decimals, others with two (`%.2f`).
func format(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e12 ? String(Int64(value)) : CFormat.string("%.2f", value)
}

extension RolloutCommand {
    /// `start`: a canary (default) or an A/B test.
    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start a canary (default) or an A/B test.",
            discussion: """
                Canary: sluice rollout start churn --candidate 2 --steps 10:200,50:200,100 --max-error-rate 0.05 --auto
                A/B:    sluice rollout start churn --ab --arm control=1:50 --arm treatment=2:50 --metric positive-rate
                A step is PERCENT[:MIN_REQUESTS[:MIN_DURATION_MS]].
                """)
        @OptionGroup var server: ServerOptions
        @Argument(help: "The model.") var model: String
        @Flag(name: .long, help: "An A/B test instead of a canary.") var ab = false
        /// A version selector (a number, a stage, `@alias`); `nil` sends "", which the server resolves to Production.
        @Option(name: .long, help: "Canary baseline version selector. (default: Production)") var baseline: String?
        /// Required for a canary (the server refuses a canary without one).
        @Option(name: .long, help: "Canary candidate version selector (a number, a stage, @alias).") var candidate:
            String?
        /// Without it the server uses its default ladder: 1, 5, 25, 50, 100 percent, 100 requests each.
        @Option(name: .long, help: "Canary steps: comma-separated PERCENT[:MIN_REQUESTS[:MIN_DURATION_MS]].")
        var steps: String?
        /// The candidate's error rate as a fraction 0...1; 0: no limit.
        @Option(name: .customLong("max-error-rate"), help: "Roll back above this candidate error rate (0..1).")
        var maxErrorRate: Double = 0
        /// The candidate's error rate minus the baseline's, 0...1; 0: no limit.
        @Option(
            name: .customLong("max-error-rate-increase"),
            help: "Roll back above this increase over the baseline (0..1).")
        var maxErrorRateIncrease: Double = 0
        /// The candidate's p99 latency limit, in milliseconds; 0: no limit.
        @Option(name: .customLong("max-p99-ms"), help: "Roll back above this candidate p99 latency.")
        var maxP99Ms: Double = 0
        /// The candidate's p99 divided by the baseline's; 0: no limit.
        @Option(name: .customLong("max-p99-ratio"), help: "Roll back above this candidate/baseline p99 ratio.")
        var maxP99Ratio: Double = 0
        /// Candidate requests in a step before any guardrail is judged; 0: the server's default (50).
        @Option(name: .customLong("min-sample-requests"), help: "Candidate requests before guardrails are judged.")
        var minSampleRequests: UInt64 = 0
        @Flag(name: .long, help: "Advance, promote and roll back automatically.") var auto = false
        /// Two or more for an A/B test; the weights are percentages that must sum to 100.
        @Option(name: .long, help: "A/B arm NAME=VERSION:WEIGHT (repeat).") var arm: [String] = []
        @Option(name: .long, help: "A/B metric: positive-rate, mean-score, error-rate or latency.") var metric: String?
        /// The smallest difference in `--metric` the test is sized to detect (sets the per-arm sample size); must be ≥
        /// 0.
        @Option(name: .customLong("min-detectable-effect"), help: "A/B minimum detectable effect.")
        var minDetectableEffect: Double = 0
        /// The A/B test's significance level; 0: the server's default (0.05).
        @Option(name: .long, help: "A/B significance level. (default: 0.05)") var significance: Double = 0
        @Option(name: .long, help: "Shadow version selector (gets a copy of the traffic, never answers).")
        var shadow: String?

        /// Parses `--steps`, `--arm` and `--metric` into a START request, sends it to the first replica that answers
        /// and prints the rollout the server created.
        ///
        /// Guardrails are sent only when at least one limit is above 0 (0 means no limit). `--min-sample-requests 0`
        /// and `--significance 0` leave the server's defaults (50 requests, 0.05); no `--metric` means positive-rate.
        ///
        /// - Throws: ``CLIError`` for a malformed step, arm or metric, or the server's refusal as `CODE: message`.
        func run() throws {
            try runRolloutCommand {
                var request = RolloutRequestMessage()
                request.model = model
                request.action = .start
                request.strategy = ab ? 2 : 1
                request.baseline = baseline ?? ""
                request.candidate = candidate ?? ""
                if let steps {
                    for item in steps.split(separator: ",") {
                        let parts = item.split(separator: ":", omittingEmptySubsequences: false)
                        guard (1...3).contains(parts.count), let percent = Double(parts[0]),
                            parts.count < 2 || UInt64(parts[1]) != nil, parts.count < 3 || UInt64(parts[2]) != nil
                        else {
                            throw CLIError(
                                message: "--steps: '\(item)' is not PERCENT[:MIN_REQUESTS[:MIN_DURATION_MS]]")
                        }
                        request.steps.append(
                            CanaryStepMessage(
                                percent: percent, minRequests: parts.count > 1 ? UInt64(parts[1])! : 0,
                                minDurationMs: parts.count > 2 ? UInt64(parts[2])! : 0))
                    }
                }
                if maxErrorRate > 0 || maxErrorRateIncrease > 0 || maxP99Ms > 0 || maxP99Ratio > 0 {
                    request.guardrails = (maxErrorRate, maxErrorRateIncrease, maxP99Ms, maxP99Ratio)
                }
                request.minSampleRequests = minSampleRequests
                request.auto = auto
                for item in arm {
                    guard let eq = item.firstIndex(of: "="), let colon = item.lastIndex(of: ":"), eq < colon,
                        let weight = Double(item[item.index(after: colon)...])
                    else { throw CLIError(message: "--arm: '\(item)' is not NAME=VERSION:WEIGHT") }
                    request.arms.append(
                        (
                            String(item[..<eq]), String(item[item.index(after: eq)..<colon]), weight
                        ))
                }
                switch metric {
                case nil: request.metric = 0
                case "positive-rate": request.metric = 1
                case "mean-score": request.metric = 2
                case "error-rate": request.metric = 3
                case "latency": request.metric = 4
                case let other?:
                    throw CLIError(message: "--metric '\(other)': use positive-rate, mean-score, error-rate or latency")
                }
                request.minDetectableEffect = minDetectableEffect
                request.significance = significance
                request.shadow = shadow ?? ""
                print(describe(try sendRollout(request, server)))
            }
        }
    }

    /// `status`: every replica's view and the fleet's sums.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the rollout as each replica sees it, and the fleet's sums.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "The model.") var model: String

        /// Asks every replica (not only the first) and prints the newest view (highest generation), one line per
        /// replica, and the fleet's sums from the first answer.
        ///
        /// - Throws: ``CLIError`` when no replica answered, or after printing, when some did not (exit status 1).
        func run() throws {
            try runRolloutCommand {
                var request = RolloutRequestMessage()
                request.model = model
                request.action = .get
                var answers: [(client: GRPCClient, response: RolloutResponseMessage)] = []
                var failures: [String] = []
                for client in try server.clients() {
                    do {
                        answers.append((client, try call(client, request)))
                    } catch let error as RPCError {
                        failures.append("\(client.address): \(error.code): \(error.message)")
                    }
                }
                guard let first = answers.first?.response else {
                    throw CLIError(message: "no replica answered: " + failures.joined(separator: "; "))
                }
                let newest = answers.max(by: { $0.response.generation < $1.response.generation })!.response
                print(describe(newest))
                print("replicas (each one's view):")
                for (client, r) in answers {
                    let weights = r.variants.filter { !$0.shadow }.map { format($0.weight) }.joined(separator: "/")
                    let mine = r.replicas.first(where: { $0.replicaID == r.replicaID })
                    let requests = mine.map { $0.requests.map(String.init).joined(separator: "/") } ?? "-"
                    print(
                        "  \(pad(client.address, 24))\(pad(r.replicaID, 22))\(pad(stateName(r.state), 12))"
                            + "generation \(pad(String(r.generation), 6))weights \(pad(weights, 12))requests \(requests)"
                    )
                }
                for failure in failures { print("  " + failure) }
                let agree = Set(answers.map { "\($0.response.rolloutID)/\($0.response.generation)" }).count == 1
                let total = first.variants.reduce(UInt64(0)) { $0 + $1.overall.requests }
                let errors = first.variants.reduce(UInt64(0)) { $0 + $1.overall.errors }
                print(
                    "fleet: \(newest.replicas.count) replica(s) reporting, requests \(total), errors \(errors)"
                        + (agree
                            ? "; every replica answering is at generation \(newest.generation)"
                            : "; replicas disagree (one is still following the shared state)"))
                if !failures.isEmpty { throw CLIError(message: "\(failures.count) replica(s) did not answer") }
            }
        }
    }

    /// `advance`: moves a canary to its next step now and restarts the step's statistics; at the last step the
    /// server refuses with FAILED_PRECONDITION (promote instead), and A/B tests have no steps.
    struct Advance: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move a canary to its next step.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "The model.") var model: String
        func run() throws { try simple(.advance, model, server) }
    }

    /// `set-weights`: sets each variant's traffic share by hand (`NAME=PERCENT` arguments).
    struct SetWeights: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-weights", abstract: "Set every variant's weight (NAME=PERCENT, summing to 100).")
        @OptionGroup var server: ServerOptions
        @Argument(help: "The model.") var model: String
        @Argument(help: "NAME=PERCENT for each variant that takes traffic, e.g. baseline=70 candidate=30.")
        var weights: [String]
        /// Parses the `NAME=PERCENT` arguments and sends them in one SET_WEIGHTS request; the server checks the names
        /// and the sum.
        func run() throws {
            var parsed: [(name: String, weight: Double)] = []
            for item in weights {
                guard let eq = item.firstIndex(of: "="), let weight = Double(item[item.index(after: eq)...]) else {
                    throw CLIError(message: "'\(item)' is not NAME=PERCENT")
                }
                parsed.append((String(item[..<eq]), weight))
            }
            try simple(.setWeights, model, server) { $0.weights = parsed }
        }
    }

    /// `pause`: freezes the weights and the automatic guardrail decisions until `resume`.
    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Freeze the weights and automatic decisions.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "The model.") var model: String
        func run() throws { try simple(.pause, model, server) }
    }

    /// `resume`: resumes a paused rollout.
    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused rollout.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "The model.") var model: String
        func run() throws { try simple(.resume, model, server) }
    }

    /// `rollback`: sends all traffic back to the baseline; `--archive-candidate` also moves the candidate to Archived.
    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send all traffic back to the baseline.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "The model.") var model: String
        @Flag(name: .customLong("archive-candidate"), help: "Also move the candidate to Archived.")
        var archiveCandidate = false
        func run() throws {
            try simple(.rollback, model, server) { $0.archiveCandidate = archiveCandidate }
        }
    }

    /// `promote`: makes the candidate (or, for an A/B test, the `--arm` given) the Production version.
    struct Promote: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make the candidate (or an A/B arm) Production.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "The model.") var model: String
        @Option(name: .long, help: "A/B: the arm to promote.") var arm: String?
        func run() throws {
            try simple(.promote, model, server) { $0.promoteArm = arm ?? "" }
        }
    }

    /// `watch`: follows until the rollout ends; the exit status tells how it ended.
    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow a rollout until it ends: exit 0 when promoted or completed, 2 when rolled back.")
        @OptionGroup var server: ServerOptions
        @Argument(help: "The model.") var model: String
        /// Seconds between polls; values below 0.05 are raised to 0.05.
        @Option(name: .long, help: "Seconds between polls. (default: 1)") var interval: Double = 1
        /// Seconds since the command started; `nil` waits as long as the rollout runs.
        @Option(name: .customLong("max-wait"), help: "Give up (exit 1) after this many seconds. (default: never)")
        var maxWait: Double?

        /// Polls the rollout every `--interval` seconds (at least 0.05) and prints a line whenever the state, step or
        /// weights change, until the rollout ends.
        ///
        /// Each poll tries the replicas in order and moves on only when one is unavailable or too slow; up to 30 such
        /// failures in a row are tolerated (a replica restarting), any other error ends the watch at once.
        ///
        /// - Throws: `ExitCode(2)` when the rollout was rolled back; ``CLIError`` when the model has no rollout, the
        /// replicas
        ///   stay unreachable, or `--max-wait` passes. Returns normally when it was promoted or completed.
        func run() throws {
            var request = RolloutRequestMessage()
            request.model = model
            request.action = .get
            let clients = try server.clients()
            let start = Date()
            var lastLine = ""
            var failuresInARow = 0
            while true {
                var answer: RolloutResponseMessage?
                var lastError: RPCError?
                for client in clients {
                    do {
                        answer = try call(client, request)
                        break
                    } catch let error as RPCError {
                        lastError = error
                        if error.code != .unavailable && error.code != .deadlineExceeded { break }
                    }
                }
                if let r = answer {
                    failuresInARow = 0
                    guard r.state != 0 else { throw CLIError(message: "model \(model) has no rollout") }
                    let weights = r.variants.filter { !$0.shadow }.map { "\($0.name) \(format($0.weight))%" }
                        .joined(separator: ", ")
                    let counts = r.variants.map { "\($0.name) \($0.overall.requests)/\($0.overall.errors) err" }
                        .joined(separator: ", ")
                    let line =
                        "\(stateName(r.state))  step \(Int(r.stepIndex) + 1)/\(max(r.steps.count, 1))  \(weights)"
                    if line != lastLine {
                        print("\(timestamp())  \(line)  [\(counts)]  \(r.lastDecision)")
                        fflush(nil)
                        lastLine = line
                    }
                    switch r.state {
                    case 3:
                        print("rolled back: \(r.lastDecision)")
                        throw ExitCode(2)
                    case 4, 5:
                        print("\(stateName(r.state).lowercased()): \(r.lastDecision)")
                        return
                    default: break
                    }
                } else if let lastError {
                    failuresInARow += 1
                    guard lastError.code == .unavailable || lastError.code == .deadlineExceeded, failuresInARow < 30
                    else { throw CLIError(message: "\(lastError.code): \(lastError.message)") }
                }
                if let maxWait, Date().timeIntervalSince(start) > maxWait {
                    throw CLIError(message: "the rollout of \(model) did not end within \(format(maxWait)) s")
                }
                Self.sleep(seconds: max(0.05, interval))
            }
        }

        /// The local wall-clock time as `HH:mm:ss`.
        func timestamp() -> String {
            var now = time(nil)
            var parts = tm()
            guard localtime_r(&now, &parts) != nil else { return "??:??:??" }
            var buffer = [CChar](repeating: 0, count: 16)
            let length = strftime(&buffer, buffer.count, "%H:%M:%S", &parts)
            return String(decoding: buffer.prefix(length).map(UInt8.init(bitPattern:)), as: UTF8.self)
        }

        /// Blocks the calling thread for `seconds`, at most 10^9 (resuming after signal interruptions).
        static func sleep(seconds: Double) {
            let seconds = seconds.isNaN ? 0 : min(max(seconds, 0), 1e9)
            var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
            var remaining = timespec()
            while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
        }
    }
}

/// A command without parameters beyond the model (and what `configure` sets).
func simple(
    _ action: RolloutRequestMessage.Action, _ model: String, _ server: ServerOptions,
    _ configure: (inout RolloutRequestMessage) -> Void = { _ in }
) throws {
    try runRolloutCommand {
        var request = RolloutRequestMessage()
        request.model = model
        request.action = action
        configure(&request)
        print(describe(try sendRollout(request, server)))
    }
}
