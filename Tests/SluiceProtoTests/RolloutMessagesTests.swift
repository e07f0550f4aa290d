import GRPCCore
import SluiceProto
import Testing

/// Round trips through the protobuf-c codecs of `sluice rollout` (client encodes requests, decodes responses).
@Suite("Rollout messages")
struct RolloutMessagesTests {
    @Test func requestRoundTripsEveryField() throws {
        var request = RolloutRequestMessage()
        request.model = "churn"
        request.action = .setWeights
        request.strategy = 2
        request.baseline = "1"
        request.candidate = "@challenger"
        request.steps = [
            CanaryStepMessage(percent: 5, minRequests: 100, minDurationMs: 60_000),
            CanaryStepMessage(percent: 50, minRequests: 1000, minDurationMs: 0),
        ]
        request.guardrails = (0.02, 0.01, 250, 1.5)
        request.auto = true
        request.arms = [("a", "1", 0.5), ("b", "models:/churn@b", 0.5)]
        request.metric = 2
        request.minDetectableEffect = 0.03
        request.significance = 0.05
        request.shadow = "3"
        request.weights = [("a", 0.25), ("b", 0.75)]
        request.archiveCandidate = true
        request.promoteArm = "b"
        request.minSampleRequests = 12345

        let decoded = try request.encoded().withUnsafeBytes { try RolloutRequestMessage(decoding: $0) }
        #expect(decoded == request)
        let guardrails = try #require(decoded.guardrails)
        #expect(guardrails.maxErrorRate == 0.02 && guardrails.maxErrorRateIncrease == 0.01)
        #expect(guardrails.maxP99Ms == 250 && guardrails.maxP99Ratio == 1.5)
        #expect(decoded.arms.map(\.version) == ["1", "models:/churn@b"])
        #expect(decoded.arms.map(\.weight) == [0.5, 0.5])
        #expect(decoded.weights.map(\.weight) == [0.25, 0.75])
        #expect(decoded.minDetectableEffect == 0.03 && decoded.significance == 0.05)
        #expect(decoded.archiveCandidate && decoded.promoteArm == "b" && decoded.minSampleRequests == 12345)
    }

    @Test func requestWithoutGuardrailsStaysWithout() throws {
        var request = RolloutRequestMessage()
        request.model = "m"
        request.action = .get
        let decoded = try request.encoded().withUnsafeBytes { try RolloutRequestMessage(decoding: $0) }
        #expect(decoded == request)
        #expect(decoded.guardrails == nil)
        #expect(decoded.steps.isEmpty && decoded.arms.isEmpty)
    }

    @Test func responseRoundTripsEveryField() throws {
        var stats = VariantStatsMessage()
        stats.requests = 900
        stats.errors = 9
        stats.errorRate = 0.01
        stats.p50Ms = 1.5
        stats.p95Ms = 4
        stats.p99Ms = 9.25
        stats.meanConfidence = 0.8
        stats.positiveRate = 0.3
        stats.meanScore = 0.42
        var variant = VariantStatusMessage()
        variant.name = "candidate"
        variant.version = 7
        variant.weight = 0.1
        variant.step = stats
        variant.overall = stats
        variant.overall.requests = 5000
        variant.shadow = true
        variant.agreementRate = 0.97

        var response = RolloutResponseMessage()
        response.model = "churn"
        response.rolloutID = "r-1"
        response.state = 2
        response.strategy = 1
        response.variants = [variant, VariantStatusMessage()]
        response.stepIndex = 1
        response.steps = [CanaryStepMessage(percent: 10, minRequests: 500, minDurationMs: 1000)]
        response.lastDecision = "paused by operator"
        response.history = [(1_700_000_000_000, "running", "paused", "operator")]
        response.ab = (2, 0.04, 3000, 2999.5, true, true)
        response.auto = true
        response.generation = 42
        response.replicaID = "replica-b"
        response.replicas = [("replica-a", [10, 20], [1, 0], 1_700_000_000_500)]

        var buffer = ResponseBuffer()
        response.encode(into: &buffer)
        #expect(Int(buffer.bytes[1]) << 24 | Int(buffer.bytes[2]) << 16 | Int(buffer.bytes[3]) << 8 | Int(buffer.bytes[4])
                == buffer.bytes.count - 5)
        let decoded = try Array(buffer.bytes.dropFirst(5)).withUnsafeBytes { try RolloutResponseMessage(decoding: $0) }
        #expect(decoded == response)
        #expect(decoded.strategy == 1)
        #expect(decoded.variants == [variant, VariantStatusMessage()])
        #expect(decoded.steps == response.steps)
        #expect(decoded.history.count == 1)
        #expect(decoded.history.first?.unixMs == 1_700_000_000_000)
        #expect(decoded.history.first?.from == "running" && decoded.history.first?.to == "paused")
        #expect(decoded.history.first?.reason == "operator")
        let ab = try #require(decoded.ab)
        #expect(ab.metric == 2 && ab.pValue == 0.04 && ab.requiredSampleSize == 3000)
        #expect(ab.requiredSampleSizeExact == 2999.5 && ab.reached && ab.significant)
        #expect(decoded.auto && decoded.generation == 42 && decoded.replicaID == "replica-b")
        #expect(decoded.replicas.count == 1)
        #expect(decoded.replicas.first?.replicaID == "replica-a")
        #expect(decoded.replicas.first?.requests == [10, 20] && decoded.replicas.first?.errors == [1, 0])
        #expect(decoded.replicas.first?.updatedUnixMs == 1_700_000_000_500)
    }

    @Test func truncatedResponseIsRejected() {
        var response = RolloutResponseMessage()
        response.model = "churn-model-name"
        var buffer = ResponseBuffer()
        response.encode(into: &buffer)
        let truncated = Array(buffer.bytes.dropFirst(5).dropLast(3))
        #expect(throws: (any Error).self) {
            try truncated.withUnsafeBytes { try RolloutResponseMessage(decoding: $0) }
        }
    }
}
