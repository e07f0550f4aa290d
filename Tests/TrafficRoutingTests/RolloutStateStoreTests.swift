import Foundation
import Synchronization
import Testing

@testable import TrafficRouting

/// A store kept in memory, as another model source would keep the documents (e.g. in tags): shows that the
/// manager needs nothing of the store beyond the protocol.
final class MemoryStateStore: RolloutStateStore {
    struct Documents {
        var structures: [String: (bytes: [UInt8], version: Int)] = [:]
        var statistics: [String: [String: [UInt8]]] = [:]
        var leases: [String: [UInt8]] = [:]
        var writes = 0
    }
    let documents = Mutex(Documents())
    let lock = Mutex(())

    var location: String { "memory" }
    func models() -> [String]? { documents.withLock { Array($0.structures.keys).sorted() } }
    func structureLocation(model: String) -> String { "memory:\(model)" }
    func structureVersion(model: String) -> String? {
        documents.withLock { $0.structures[model].map { String($0.version) } }
    }
    func readStructure(model: String) throws(RolloutError) -> [UInt8]? {
        documents.withLock { $0.structures[model]?.bytes }
    }
    func writeStructure(model: String, _ bytes: [UInt8]) throws(RolloutError) {
        documents.withLock {
            $0.writes += 1
            $0.structures[model] = (bytes, $0.writes)
        }
    }
    func exclusively<R>(_ body: () throws(RolloutError) -> R) throws(RolloutError) -> R {
        try lock.withLock { _ throws(RolloutError) -> R in try body() }
    }
    func readStatistics(model: String, replica: String) -> [UInt8]? {
        documents.withLock { $0.statistics[model]?[replica] }
    }
    func writeStatistics(model: String, replica: String, _ bytes: [UInt8]) throws(RolloutError) {
        documents.withLock { $0.statistics[model, default: [:]][replica] = bytes }
    }
    func allStatistics(model: String, except excluded: String) -> [(replica: String, bytes: [UInt8])] {
        documents.withLock {
            ($0.statistics[model] ?? [:]).filter { $0.key != excluded }.sorted { $0.key < $1.key }
                .map { ($0.key, $0.value) }
        }
    }
    func readLease(model: String) -> [UInt8]? { documents.withLock { $0.leases[model] } }
    func writeLease(model: String, _ bytes: [UInt8]) throws(RolloutError) {
        documents.withLock { $0.leases[model] = bytes }
    }
}

@Suite("Rollout state stores")
struct RolloutStateStoreTests {
    let registry = FakeRegistry()
    let clock = ManualClock()

    @Test("replicas share a rollout through any store: follow, generation check, summed status")
    func anyStore() throws {
        let store = MemoryStateStore()
        let a = RolloutManager(store: store, registry: registry, clock: clock, replicaID: "a")
        let b = RolloutManager(store: store, registry: registry, clock: clock, replicaID: "b")
        let started = try a.execute(model: "churn", canary())
        b.tick()
        #expect(b.status(model: "churn").rolloutID == started.rolloutID)
        for i in 0..<1000 {
            #expect(
                a.assign(model: "churn", routingKey: "k\(i)")?.version
                    == b.assign(model: "churn", routingKey: "k\(i)")?.version)
        }
        _ = try b.execute(model: "churn", .advance)
        let stale = try #require(a.rollout(of: "churn"))
        do {
            try a.commit(stale) { d in d.transition(to: .paused, reason: "stale", at: 0) }
            Issue.record("a stale write must be refused")
        } catch {
            #expect(error.code == .aborted)
        }
        for i in 0..<200 {
            if let x = a.assign(model: "churn", routingKey: "r\(i)") {
                a.record(x, outcome: Outcome(ok: true, latencyNs: 1000))
            }
            if let y = b.assign(model: "churn", routingKey: "r\(i)") {
                b.record(y, outcome: Outcome(ok: true, latencyNs: 1000))
            }
        }
        a.tick()
        b.tick()
        let status = a.status(model: "churn")
        #expect(status.stepIndex == 1 && status.generation == 2)
        #expect(status.variants.reduce(0) { $0 + $1.overall.requests } == 400)
        #expect(status.replicas.map(\.replicaID) == ["a", "b"])
    }

    @Test("local files: replica names become safe file names; versions change with every write")
    func localFiles() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(LocalRolloutStateStore.fileName(replica: "pod-7.sluice:50051") == "pod-7.sluice_50051")
        #expect(LocalRolloutStateStore.fileName(replica: "../../etc") == "_.._.._etc")
        #expect(LocalRolloutStateStore.fileName(replica: "") == "_")
        let store = LocalRolloutStateStore(root: dir + "/")
        #expect(store.structureVersion(model: "churn") == nil)
        try store.exclusively { () throws(RolloutError) in try store.writeStructure(model: "churn", Array("{}".utf8)) }
        let first = try #require(store.structureVersion(model: "churn"))
        try store.writeStructure(model: "churn", Array("{\"a\":1}".utf8))
        #expect(store.structureVersion(model: "churn") != first)
        try store.writeStatistics(model: "churn", replica: "b:1", [1])
        try store.writeStatistics(model: "churn", replica: "a:1", [2])
        #expect(store.allStatistics(model: "churn", except: "c").map(\.replica) == ["a_1", "b_1"])
        #expect(store.allStatistics(model: "churn", except: "a:1").map(\.replica) == ["b_1"])
        #expect(store.readStatistics(model: "churn", replica: "a:1") == [2])
        #expect(store.models() == ["churn"])
    }
}
