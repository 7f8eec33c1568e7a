@testable import FerryProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// A streamed request is kept for a retry while it fits the collected size,
/// as Envoy's retry buffer keeps it.
@Suite struct RequestReplayTests {
    static let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/r")

    static func streamed(start: String, limit: Int?) -> (ProxiedRequest, BodyStream) {
        let rest = BodyStream.request(from: EmbeddedChannel(), replayLimit: limit)
        return (ProxiedRequest(head: head, body: ByteBuffer(string: start), trailers: nil, rest: rest), rest)
    }

    @Test func anEndedBodyWithinTheLimitIsSentAgainWhole() throws {
        let (request, rest) = Self.streamed(start: "ab", limit: 10)
        rest.receive(.body(ByteBuffer(string: "cd")))
        #expect(request.replayable() == nil, "still coming")
        rest.receive(.body(ByteBuffer(string: "ef")))
        rest.receive(.end(["grpc-status": "0"]))
        let again = try #require(request.replayable())
        #expect(again.rest == nil)
        #expect(String(buffer: again.body) == "abcdef")
        #expect(again.trailers?.first(name: "grpc-status") == "0")
        #expect(again.head == request.head)
    }

    @Test func aLargerOrFailedBodyIsNot() {
        let (large, rest) = Self.streamed(start: "", limit: 4)
        rest.receive(.body(ByteBuffer(string: "abc")))
        rest.receive(.body(ByteBuffer(string: "de")))
        rest.receive(.end(nil))
        #expect(large.replayable() == nil, "past the limit")

        let (failed, broken) = Self.streamed(start: "", limit: 10)
        broken.receive(.body(ByteBuffer(string: "abc")))
        broken.receive(.failed)
        #expect(failed.replayable() == nil)

        let (unkept, plain) = Self.streamed(start: "", limit: nil)
        plain.receive(.end(nil))
        #expect(unkept.replayable() == nil, "a stream made without a limit keeps nothing")
    }

    @Test func aWholeRequestIsItsOwnReplay() {
        let whole = ProxiedRequest(head: Self.head, body: ByteBuffer(string: "xyz"), trailers: nil)
        #expect(whole.replayable().map { String(buffer: $0.body) } == "xyz")
    }
}
