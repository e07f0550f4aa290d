import Foundation
import Testing

@testable import Auth

@Suite("Audit log")
struct AuditLogTests {
    let pki: TestPKI
    init() throws { pki = try TestPKI.shared() }

    func tempPath(_ name: String) -> String { "\(pki.dir)/\(name)-\(UInt32.random(in: 0...UInt32.max)).log" }

    func lines(_ path: String) -> [String] {
        guard let d = FileManager.default.contents(atPath: path) else { return [] }
        return String(decoding: d, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    static let fields: Set<String> = [
        "time", "request_id", "principal", "auth_method", "credential_id", "peer", "rpc", "model", "selector",
        "version", "variant", "decision", "reason", "grpc_status", "latency_us",
    ]

    func object(_ line: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    @Test("a mixed run leaves exactly one well-formed record per call, with no secrets")
    func mixedRun() throws {
        let path = tempPath("mixed")
        let key = try APIKeys.create(id: "k-1", principal: "partner-a", roles: ["viewer"], expires: nil)
        let config = pki.writeConfig(
            """
            {\(pki.jwtSection), "apiKeys": [\(key.configEntry)],
             "audit": {"path": "\(path)", "onFailure": "fail-open"}}
            """)
        let s = try AuthService(configPath: config)
        let token = try pki.mint(
            header: TestPKI.header(alg: "ES256", kid: "ec-1"),
            payload: TestPKI.claims(sub: "svc", extra: "\"jti\":\"j-9\",\"roles\":[\"predictor\"]"), signer: .ec)
        let forged = String(token.dropLast(4)) + "AAAA"
        var requests: [AuthRequest] = []
        for k in 0..<60 {
            switch k % 6 {
            case 0:
                requests.append(
                    AuthRequest(rpc: .predict, model: "churn", authorization: "Bearer " + token, peer: "127.0.0.1:\(k)")
                )
            case 1:
                requests.append(
                    AuthRequest(rpc: .rollout, model: "churn", authorization: "Bearer " + token, peer: "127.0.0.1:\(k)")
                )
            case 2:
                requests.append(
                    AuthRequest(rpc: .getModelVersion, model: "fraud \"eu\"\n", apiKey: key.key, peer: "127.0.0.1:\(k)")
                )
            case 3: requests.append(AuthRequest(rpc: .predict, model: "churn", apiKey: key.key, peer: "127.0.0.1:\(k)"))
            case 4:
                requests.append(
                    AuthRequest(
                        rpc: .predict, model: "churn", authorization: "Bearer " + forged, peer: "127.0.0.1:\(k)"))
            default:
                requests.append(
                    AuthRequest(rpc: .batchPredict, model: "churn", apiKey: "wrong-key-123", peer: "127.0.0.1:\(k)"))
            }
        }
        var expectedAllowed = 0
        for (k, r) in requests.enumerated() {
            let start = AuditRecord.now()
            let d = s.authorize(r)
            let status: Int
            switch d {
            case .allowed: status = 0; expectedAllowed += 1
            case .denied(let denial): status = denial.code.grpcStatus
            }
            #expect(
                s.audit?.record(
                    AuditRecord(
                        request: r, decision: d, startTime: start, requestID: "req-\(k)", selector: "production",
                        resolvedVersion: status == 0 ? 3 : nil, variant: "", grpcStatus: status, latencyMicros: 12))
                    == true)
        }
        #expect(expectedAllowed == 20)
        s.shutdown()

        let got = lines(path)
        #expect(got.count == requests.count)
        var ids = Set<String>()
        var allowed = 0
        for line in got {
            for secret in [
                token, forged, key.key, "wrong-key-123", key.sha256Hex, String(token.split(separator: ".")[2]),
            ] {
                #expect(!line.contains(secret))
            }
            let o = try #require(object(line), "not JSON: \(line)")
            #expect(Set(o.keys) == Self.fields)
            ids.insert(o["request_id"] as? String ?? "")
            if o["decision"] as? String == "allowed" { allowed += 1 }
        }
        #expect(ids.count == requests.count)
        #expect(allowed == expectedAllowed)
        // Spot-check one record of each kind.
        let byID = Dictionary(
            uniqueKeysWithValues: got.compactMap(object).map { ($0["request_id"] as? String ?? "", $0) })
        let jwtOK = try #require(byID["req-0"])
        #expect(jwtOK["principal"] as? String == "svc" && jwtOK["auth_method"] as? String == "jwt")
        #expect(jwtOK["credential_id"] as? String == "j-9" && jwtOK["version"] as? Int == 3)
        #expect(jwtOK["peer"] as? String == "127.0.0.1:0" && jwtOK["rpc"] as? String == "Predict")
        let denied = try #require(byID["req-1"])
        #expect(denied["decision"] as? String == "denied" && denied["grpc_status"] as? Int == 7)
        #expect((denied["reason"] as? String)?.hasPrefix("permission-denied") == true)
        let escaped = try #require(byID["req-2"])
        #expect(escaped["model"] as? String == "fraud \"eu\"\n" && escaped["auth_method"] as? String == "api-key")
        let bad = try #require(byID["req-4"])
        #expect(bad["grpc_status"] as? Int == 16 && (bad["reason"] as? String)?.contains("bad signature") == true)
        #expect((byID["req-0"]?["time"] as? String)?.hasSuffix("Z") == true)
    }

    @Test("shutdown writes every queued record")
    func flushOnShutdown() throws {
        let path = tempPath("shutdown")
        let log = try AuditLog(path: path, settings: .init(path: path, queueCapacity: 100_000))
        for k in 0..<20_000 {
            log.record(
                AuditRecord(
                    time: 1_700_000_000.5, requestID: "r\(k)", principal: "p", method: .apiKey, credentialID: "k",
                    peer: "",
                    rpc: "Predict", model: "m", selector: "", resolvedVersion: nil, variant: "", allowed: true,
                    reason: "",
                    grpcStatus: 0, latencyMicros: 1))
        }
        log.shutdown()
        let got = lines(path)
        #expect(got.count == 20_000)
        #expect(got.first?.hasPrefix(#"{"time":"2023-11-14T22:13:20.500Z","request_id":"r0""#) == true)
        #expect(log.writtenRecords == 20_000 && log.droppedRecords == 0)
        // After shutdown nothing more is accepted.
        #expect(
            !log.record(
                AuditRecord(
                    time: 0, requestID: "late", principal: "", method: .none, credentialID: "", peer: "",
                    rpc: "Predict",
                    model: "", selector: "", resolvedVersion: nil, variant: "", allowed: true, reason: "",
                    grpcStatus: 0,
                    latencyMicros: 0)))
    }

    @Test("records reach the file within a second without shutdown")
    func periodicFlush() throws {
        let path = tempPath("periodic")
        let log = try AuditLog(path: path, settings: .init(path: path))
        defer { log.shutdown() }
        log.record(
            AuditRecord(
                time: 0, requestID: "x", principal: "", method: .none, credentialID: "", peer: "", rpc: "Health",
                model: "", selector: "", resolvedVersion: nil, variant: "", allowed: true, reason: "", grpcStatus: 0,
                latencyMicros: 0))
        let deadline = Date().addingTimeInterval(3.0)
        while lines(path).isEmpty && Date() < deadline { usleep(10_000) }
        #expect(lines(path).count == 1)
    }

    @Test("rotation by size keeps every record across the rotated files")
    func rotation() throws {
        let path = tempPath("rotate")
        let log = try AuditLog(path: path, settings: .init(path: path, maxBytes: 4096, keep: 50))
        for k in 0..<300 {
            log.record(
                AuditRecord(
                    time: 0, requestID: "r\(k)", principal: "p", method: .jwt, credentialID: "", peer: "",
                    rpc: "Predict",
                    model: "m", selector: "", resolvedVersion: 1, variant: "a", allowed: true, reason: "",
                    grpcStatus: 0,
                    latencyMicros: 0))
            if k % 50 == 0 { log.flush() }
        }
        log.shutdown()
        var total = lines(path).count
        var files = 1
        for k in 1...50 where FileManager.default.fileExists(atPath: "\(path).\(k)") {
            let size = (try? FileManager.default.attributesOfItem(atPath: "\(path).\(k)")[.size] as? Int) ?? 0
            #expect(size <= 4096)
            total += lines("\(path).\(k)").count
            files += 1
        }
        #expect(files > 3)
        #expect(total == 300)
    }

    @Test("fail-closed: a failing sink refuses calls with UNAVAILABLE")
    func failClosed() throws {
        let log = try AuditLog(path: "/dev/full", settings: .init(path: "/dev/full", onFailure: .failClosed))
        let s = AuthService.insecure(audit: log)
        #expect(s.authorize(AuthRequest(rpc: .predict, model: "m")).principal != nil)
        log.record(
            AuditRecord(
                time: 0, requestID: "x", principal: "", method: .none, credentialID: "", peer: "", rpc: "Predict",
                model: "", selector: "", resolvedVersion: nil, variant: "", allowed: true, reason: "", grpcStatus: 0,
                latencyMicros: 0))
        let deadline = Date().addingTimeInterval(6)
        while !log.sinkFailed && Date() < deadline { usleep(5000) }
        #expect(log.sinkFailed)
        guard case .denied(let d) = s.authorize(AuthRequest(rpc: .predict, model: "m")) else {
            Issue.record("fail-closed audit allowed a call")
            return
        }
        #expect(d.code == .unavailable && d.code.grpcStatus == 14)
        #expect(log.droppedRecords == 0)
        // While failing, new records are refused (and counted) instead of piling up behind the unwritten one.
        #expect(
            !log.record(
                AuditRecord(
                    time: 0, requestID: "y", principal: "", method: .none, credentialID: "", peer: "",
                    rpc: "Predict", model: "", selector: "", resolvedVersion: nil, variant: "", allowed: false,
                    reason: "unavailable", grpcStatus: 14, latencyMicros: 0)))
        #expect(log.droppedRecords == 1)
        log.shutdown()
    }

    @Test("fail-open: a failing sink drops and counts, calls go on")
    func failOpen() throws {
        let log = try AuditLog(path: "/dev/full", settings: .init(path: "/dev/full", onFailure: .failOpen))
        let s = AuthService.insecure(audit: log)
        for k in 0..<5 {
            log.record(
                AuditRecord(
                    time: 0, requestID: "\(k)", principal: "", method: .none, credentialID: "", peer: "",
                    rpc: "Predict",
                    model: "", selector: "", resolvedVersion: nil, variant: "", allowed: true, reason: "",
                    grpcStatus: 0,
                    latencyMicros: 0))
        }
        let deadline = Date().addingTimeInterval(6)
        while log.droppedRecords < 5 && Date() < deadline { usleep(5000) }
        #expect(log.droppedRecords == 5)
        #expect(s.authorize(AuthRequest(rpc: .predict, model: "m")).principal != nil)
        log.shutdown()
    }

    @Test("an unwritable audit path is a clear startup error")
    func unwritable() {
        #expect(throws: AuditLogError.self) {
            _ = try AuditLog(path: "/nonexistent-dir/audit.log", settings: .init())
        }
    }
}

@Suite("Audit formatting")
struct AuditFormattingTests {
    func text(_ body: (inout AuditBytes) -> Void) -> String {
        var out = AuditBytes(capacity: 64)
        defer { out.release() }
        body(&out)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    @Test("integers", arguments: [Int64(0), 7, -7, 10, 999, 1_000_000, .max, .min])
    func integers(_ v: Int64) {
        #expect(text { $0.reserve(24); $0.putDecimal(v) } == String(v))
    }

    @Test("strings are escaped only when needed; broken UTF-8 is repaired; timestamps change with the second")
    func stringsAndTime() {
        #expect(String(decoding: AuditEntry.quoted("plain é"), as: UTF8.self) == #""plain é""#)
        #expect(String(decoding: AuditEntry.quoted("q\"b\\n\n\u{1}\u{7F}"), as: UTF8.self) == #""q\"b\\n\n\u0001\u007f""#)
        let broken: [UInt8] = [0x61, 0xC3, 0x22, 0xFF]
        let repaired = text { out in
            out.reserve(16)
            broken.withUnsafeBytes { out.putJSONString($0) }
        }
        #expect(repaired == "\"a\u{FFFD}\\\"\u{FFFD}\"")
        var clock = AuditTimestampCache()
        let t = text { out in
            clock.append(1_700_000_000.999, to: &out)
            clock.append(1_700_000_001.0, to: &out)
        }
        #expect(t == "2023-11-14T22:13:20.999Z2023-11-14T22:13:21.000Z")
    }

    @Test("a queued entry becomes one JSON line; long caller-supplied fields are cut, never broken")
    func entryRoundTrip() throws {
        var queue = AuditBytes(capacity: 16)
        defer { queue.release() }
        let longModel = String(repeating: "é", count: 3000)  // 6,000 bytes: cut to 1,024 = 512 whole characters
        let oddSelector = "xy" + String(repeating: "€", count: 700)  // cut at 1,024 = "xy", 340 '€' and 2 bytes of one
        AuditEntry.append(
            to: &queue, time: 1_700_000_000.25, requestID: "req-1",
            identity: AuditEntry.identity(principal: "CN=svc,O=\"Acme\"", method: .mtls, credentialID: ""),
            peer: "[::1]:5000", rpc: "Predict", model: longModel, selector: oddSelector, version: nil, variant: "b",
            allowed: false, reason: "permission-denied: no role", grpcStatus: 7, latencyMicros: 42)
        AuditEntry.append(
            to: &queue, time: 1_700_000_000.5, requestID: "", identity: AuthService.anonymous.auditIdentity,
            peer: "", rpc: "Health", model: "", selector: "", version: 12, variant: "", allowed: true, reason: "",
            grpcStatus: 0, latencyMicros: 0)
        var lines = AuditBytes(capacity: 16)
        defer { lines.release() }
        var clock = AuditTimestampCache()
        var offset = 0
        var count = 0
        while offset < queue.count {
            let entry = AuditEntryView(base: UnsafeRawPointer(queue.base) + offset)
            entry.appendJSONLine(to: &lines, clock: &clock)
            offset += entry.length
            count += 1
        }
        #expect(count == 2 && offset == queue.count)
        let text = String(decoding: lines.bytes, as: UTF8.self)
        let parsed = text.split(separator: "\n").map {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
        #expect(parsed.count == 2)
        let first = try #require(parsed[0])
        #expect(Set(first.keys) == AuditLogTests.fields)
        #expect(first["principal"] as? String == "CN=svc,O=\"Acme\"" && first["auth_method"] as? String == "mtls")
        #expect(first["model"] as? String == String(repeating: "é", count: 512))
        #expect(first["selector"] as? String == "xy" + String(repeating: "€", count: 340) + "\u{FFFD}")
        #expect(first["version"] is NSNull && first["decision"] as? String == "denied")
        #expect(first["grpc_status"] as? Int == 7 && first["latency_us"] as? Int == 42)
        #expect(first["time"] as? String == "2023-11-14T22:13:20.250Z")
        let second = try #require(parsed[1])
        #expect(second["principal"] as? String == "anonymous" && second["auth_method"] as? String == "none")
        #expect(second["version"] as? Int == 12 && second["decision"] as? String == "allowed")
    }
}
