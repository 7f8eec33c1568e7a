@testable import FerryProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// One exchange on an upstream channel, driven by hand: interim answers are
/// skipped, and a response body past the limit fails the exchange and closes
/// the connection instead of growing without end.
@Suite struct UpstreamExchangeTests {
    private func start(limit: Int) throws -> (EmbeddedChannel, EventLoopFuture<ProxiedResponse>) {
        let exchange = UpstreamExchange(maxBodySize: limit)
        let channel = EmbeddedChannel(handler: exchange)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        let request = ProxiedRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/events"), body: ByteBuffer(), trailers: nil)
        let response = exchange.send(request, on: channel.eventLoop)
        return (channel, response)
    }

    private func answer(_ channel: EmbeddedChannel, _ parts: [HTTPClientResponsePart]) throws {
        for part in parts { try channel.writeInbound(part) }
    }

    @Test func aResponseWithinTheLimitIsWholeAfterAnInterimAnswer() throws {
        let (channel, response) = try start(limit: 8)
        try answer(channel, [
            .head(HTTPResponseHead(version: .http1_1, status: .continue)), .end(nil),
            .head(HTTPResponseHead(version: .http1_1, status: .ok)),
            .body(ByteBuffer(string: "1234")), .body(ByteBuffer(string: "5678")), .end(nil),
        ])
        let whole = try response.wait()
        #expect(whole.head.status == .ok && String(buffer: whole.body) == "12345678")
        #expect(channel.isActive)
    }

    @Test func aResponseBodyPastTheLimitFailsAndClosesTheConnection() throws {
        let (channel, response) = try start(limit: 8)
        try answer(channel, [.head(HTTPResponseHead(version: .http1_1, status: .ok)), .body(ByteBuffer(string: "12345"))])
        #expect(channel.isActive, "under the limit so far")
        try answer(channel, [.body(ByteBuffer(string: "6789")), .body(ByteBuffer(string: "more")), .end(nil)])
        #expect(throws: UpstreamFailure.self) { try response.wait() }
        #expect(!channel.isActive, "the rest of the body has nowhere to go")
    }
}
