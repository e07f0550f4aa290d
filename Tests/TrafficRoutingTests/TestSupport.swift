import Foundation
import Synchronization

@testable import TrafficRouting

/// An in-memory registry: versions 1…N of every model, one Production version, archived versions.
final class FakeRegistry: RolloutRegistry {
    struct State {
        var versions: Set<Int64>
        var production: Int64?
        var archived: Set<Int64> = []
        var promotions: [(candidate: Int64, baseline: Int64?)] = []
        var failPromotion = false
    }
    let state: Mutex<State>

    init(versions: Set<Int64> = [1, 2, 3, 4], production: Int64? = 1) {
        state = Mutex(State(versions: versions, production: production))
    }

    func resolve(model: String, selector: String) throws -> Int64 {
        let s = selector.lowercased()
        if s == "production" {
            guard let p = state.withLock({ $0.production }) else {
                throw RolloutError(.notFound, "model \(model) has no Production version")
            }
            return p
        }
        guard let v = Int64(s), state.withLock({ $0.versions.contains(v) }) else {
            throw RolloutError(.notFound, "model \(model) has no version \(selector)")
        }
        return v
    }

    func productionVersion(model: String) -> Int64? { state.withLock { $0.production } }

    func promote(model: String, candidate: Int64, archiving baseline: Int64?) throws {
        try state.withLock { s in
            if s.failPromotion { throw RolloutError(.internalError, "disk full") }
            s.production = candidate
            if let baseline { s.archived.insert(baseline) }
            s.promotions.append((candidate, baseline))
        }
    }

    func archive(model: String, version: Int64) throws {
        _ = state.withLock { $0.archived.insert(version) }
    }
}

/// A clock tests move by hand.
final class ManualClock: RolloutClock {
    let ms = Atomic<Int64>(1_750_000_000_000)
    func nowUnixMs() -> Int64 { ms.load(ordering: .relaxed) }
    func advance(ms delta: Int64) { ms.add(delta, ordering: .relaxed) }
}

/// A fresh temporary directory.
func temporaryDirectory() -> String {
    let path = "/tmp/sluice-routing-tests-\(UInt64.random(in: 0 ... .max))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func canary(
    candidate: String = "2",
    steps: [CanaryStep] = [
        CanaryStep(percent: 10, minRequests: 200), CanaryStep(percent: 25),
        CanaryStep(percent: 100),
    ], guardrails: Guardrails = Guardrails(), auto: Bool = false, shadow: String = ""
) -> RolloutCommand {
    .start(
        RolloutSpec(
            strategy: .canary, candidate: candidate, steps: steps, guardrails: guardrails, auto: auto,
            shadow: shadow))
}
