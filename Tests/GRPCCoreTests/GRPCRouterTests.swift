import GRPCCore
import Testing

private struct EchoService: GRPCService {
    let serviceName = "test.Echo"
    var methods: [UnaryMethod] {
        [
            UnaryMethod("Say") { request, _, response in
                response.appendMessage(request)
                return .ok
            }
        ]
    }
}

@Suite("GRPCRouter")
struct GRPCRouterTests {
    let router = GRPCRouter(services: [EchoService()])

    @Test func findsRegisteredMethod() {
        guard case .method(let method) = router.route(path: "/test.Echo/Say") else {
            Issue.record("expected a method")
            return
        }
        #expect(method.name == "Say")
    }

    @Test func unknownMethodOfKnownService() {
        guard case .unknownMethod(let service, let method) = router.route(path: "/test.Echo/Shout") else {
            Issue.record("expected unknownMethod")
            return
        }
        #expect(service == "test.Echo")
        #expect(method == "Shout")
    }

    @Test func unknownService() {
        guard case .unknownService(let service) = router.route(path: "/other.Svc/Say") else {
            Issue.record("expected unknownService")
            return
        }
        #expect(service == "other.Svc")
    }

    @Test func responseBufferFramesMessages() {
        var buffer = ResponseBuffer()
        buffer.appendMessage([1, 2, 3] as [UInt8])
        #expect(buffer.bytes == [0, 0, 0, 0, 3, 1, 2, 3])
    }
}
