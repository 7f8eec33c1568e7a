@testable import FerryProxy
import NIOCore
import NIOHTTP1
import Testing

/// The agent's own answers to gRPC calls, in gRPC's terms.
@Suite struct GRPCRepliesTests {
    @Test(arguments: [(400, 13), (401, 16), (403, 7), (404, 12), (429, 14), (502, 14), (503, 14), (504, 4), (500, 2), (413, 2)])
    func httpStatusesMapToGRPCCodes(http: Int, grpc: Int) {
        #expect(GRPC.code(forHTTPStatus: http) == grpc)
    }

    @Test func messagesArePercentEncoded() {
        #expect(GRPC.percentEncoded("no endpoint for demo/web") == "no endpoint for demo/web")
        #expect(GRPC.percentEncoded("100% done") == "100%25 done")
        #expect(GRPC.percentEncoded("line\nbreak é") == "line%0Abreak %C3%A9")
    }

    @Test func aLocalAnswerBecomesATrailersAnswer() throws {
        let local = ProxiedResponse.local(.serviceUnavailable, reason: "circuit breaker: too many requests", version: .http2,
                                          extraHeaders: [("x-ferry-ratelimited", "true")])
        #expect(local.isLocal)
        let call = local.asGRPCCall()
        #expect(call.head.status == .ok && call.body.readableBytes == 0)
        #expect(call.head.headers["content-type"] == ["application/grpc"])
        #expect(call.head.headers["x-ferry-ratelimited"] == ["true"])
        let trailers = try #require(call.trailers)
        #expect(trailers["grpc-status"] == ["14"])
        #expect(trailers["grpc-message"] == ["circuit breaker: too many requests"])
        #expect(GRPC.status(head: call.head, trailers: call.trailers) == "14")
    }

    @Test func theStatusComesFromTrailersOrATrailersOnlyHead() {
        let head = HTTPResponseHead(version: .http2, status: .ok, headers: ["grpc-status": "5"])
        #expect(GRPC.status(head: head, trailers: nil) == "5")
        #expect(GRPC.status(head: head, trailers: ["grpc-status": "0"]) == "0")
        #expect(GRPC.status(head: HTTPResponseHead(version: .http1_1, status: .ok), trailers: nil) == nil)
        #expect(GRPC.isCall(HTTPRequestHead(version: .http2, method: .POST, uri: "/a.B/C", headers: ["content-type": "application/grpc+proto"])))
        #expect(!GRPC.isCall(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")))
    }
}
