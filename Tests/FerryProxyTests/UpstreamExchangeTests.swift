@testable import FerryProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization
import Testing

/// One exchange on an upstream channel, driven by hand: interim answers are
/// skipped, a short response is collected whole (and past the limit fails the
/// exchange and closes the connection), a body of unknown length is passed
/// on as it arrives, and so is a streamed request body.
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
            .head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "8"])),
            .body(ByteBuffer(string: "1234")), .body(ByteBuffer(string: "5678")), .end(nil),
        ])
        let whole = try response.wait()
        #expect(whole.head.status == .ok && String(buffer: whole.body) == "12345678" && whole.rest == nil)
        #expect(channel.isActive)
    }

    @Test func aResponseBodyPastTheLimitFailsAndClosesTheConnection() throws {
        let (channel, response) = try start(limit: 8)
        try answer(channel, [.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "13"])),
                             .body(ByteBuffer(string: "12345"))])
        #expect(channel.isActive, "under the limit so far")
        try answer(channel, [.body(ByteBuffer(string: "6789")), .body(ByteBuffer(string: "more")), .end(nil)])
        #expect(throws: UpstreamFailure.self) { try response.wait() }
        #expect(!channel.isActive, "the rest of the body has nowhere to go")
    }

    @Test func aBodyOfUnknownLengthIsPassedOnAsItArrives() throws {
        let (channel, response) = try start(limit: 8)
        try answer(channel, [.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-type": "text/event-stream"]))])
        let started = try response.wait()
        let rest = try #require(started.rest, "the head is answered before the body ends")
        let received = Mutex<[String]>([])
        rest.start(on: channel.eventLoop) { event in
            received.withLock { events in
                switch event {
                case .body(let chunk): events.append(String(buffer: chunk))
                case .end: events.append("end")
                case .failed: events.append("failed")
                }
            }
        }
        let total = Mutex(-1)
        rest.whenDone { bytes in total.withLock { $0 = bytes } }
        try answer(channel, [.body(ByteBuffer(string: "data: 1\n\n"))])
        channel.embeddedEventLoop.run()
        #expect(received.withLock { $0 } == ["data: 1\n\n"], "each part as it comes, past the collection limit")
        try answer(channel, [.body(ByteBuffer(string: "data: 2\n\n")), .end(nil)])
        channel.embeddedEventLoop.run()
        #expect(received.withLock { $0 } == ["data: 1\n\n", "data: 2\n\n", "end"])
        #expect(total.withLock { $0 } == 18)
    }

    @Test func droppingAStreamedBodyClosesTheConnectionOnlyWhileTheBodyIsComing() throws {
        let (channel, response) = try start(limit: 8)
        try answer(channel, [.head(HTTPResponseHead(version: .http1_1, status: .serviceUnavailable)),
                             .body(ByteBuffer(string: "retry me")), .end(nil)])
        try #require(try response.wait().rest).cancel()
        channel.embeddedEventLoop.run()
        #expect(channel.isActive, "the whole body was in: the connection is the pool's, maybe serving another request")

        let (open, pending) = try start(limit: 8)
        try answer(open, [.head(HTTPResponseHead(version: .http1_1, status: .ok)), .body(ByteBuffer(string: "data"))])
        try #require(try pending.wait().rest).cancel()
        open.embeddedEventLoop.run()
        #expect(!open.isActive, "the rest of the body has no reader")
    }

    /// Ferry's upstream sockets allow half-closure, so the server's FIN
    /// arrives as an event rather than a close.
    @Test func anIdleConnectionTheServerClosesLeavesThePool() throws {
        let (channel, response) = try start(limit: 8)
        try answer(channel, [.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "2"])),
                             .body(ByteBuffer(string: "ok")), .end(nil)])
        #expect(String(buffer: try response.wait().body) == "ok")
        #expect(channel.isActive)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive, "closed, so the pool drops it instead of handing it the next request")
    }

    @Test func aServerThatClosesMidAnswerFailsTheExchange() throws {
        let (channel, response) = try start(limit: 8)
        try answer(channel, [.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "8"])),
                             .body(ByteBuffer(string: "half"))])
        let outcome = Mutex<Result<ProxiedResponse, Error>?>(nil)
        response.whenComplete { result in outcome.withLock { $0 = result } }
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        channel.embeddedEventLoop.run()
        guard case .failure(let error) = outcome.withLock({ $0 }) else { Issue.record("no failure: \(String(describing: outcome.withLock { $0 }))"); return }
        #expect(error is UpstreamFailure)
        #expect(!channel.isActive)
    }

    /// A server that closes before answering (a keep-alive timeout striking
    /// as the request went out) is told apart from one that fails mid-answer:
    /// the pool may send the request again on a fresh connection.
    @Test func aServerThatClosesBeforeAnsweringIsToldApart() throws {
        let exchange = UpstreamExchange()
        let channel = EmbeddedChannel(handler: exchange)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        let get = ProxiedRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"), body: ByteBuffer(), trailers: nil)
        let response = exchange.send(get, on: channel.eventLoop)
        let outcome = Mutex<Result<ProxiedResponse, Error>?>(nil)
        response.whenComplete { result in outcome.withLock { $0 = result } }
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        channel.embeddedEventLoop.run()
        guard case .failure(let error as UpstreamFailure) = outcome.withLock({ $0 }), case .closedBeforeAnswer(sent: true) = error else {
            Issue.record("expected closedBeforeAnswer(sent: true): \(String(describing: outcome.withLock { $0 }))")
            return
        }
        // A second request on it is not sent at all.
        let request = ProxiedRequest(head: HTTPRequestHead(version: .http1_1, method: .POST, uri: "/"), body: ByteBuffer(), trailers: nil)
        #expect(throws: UpstreamFailure.closedBeforeAnswer(sent: false)) { try exchange.send(request, on: channel.eventLoop).wait() }
    }

    @Test(arguments: [
        (HTTPMethod.GET, true, true), (.GET, false, true), (.PUT, true, true), (.DELETE, true, true),
        (.POST, true, false), (.POST, false, true), (.PATCH, true, false),
    ])
    func aRequestGoesAgainOnAFreshConnectionOnlyWhenThatIsSafe(method: HTTPMethod, sent: Bool, resend: Bool) {
        let request = ProxiedRequest(head: HTTPRequestHead(version: .http1_1, method: method, uri: "/"), body: ByteBuffer(), trailers: nil)
        #expect(UpstreamPool.mayResendOnAFreshConnection(request, after: .closedBeforeAnswer(sent: sent)) == resend)
        #expect(!UpstreamPool.mayResendOnAFreshConnection(request, after: .reset("mid-answer")))
    }

    private func sendStreamed(_ head: HTTPRequestHead) throws -> (EmbeddedChannel, UpstreamExchange, BodyStream, EventLoopFuture<ProxiedResponse>) {
        let exchange = UpstreamExchange()
        let channel = EmbeddedChannel(handler: exchange)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        let rest = BodyStream.request(from: EmbeddedChannel())
        let request = ProxiedRequest(head: head, body: ByteBuffer(string: "first"), trailers: nil, rest: rest)
        return (channel, exchange, rest, exchange.send(request, on: channel.eventLoop))
    }

    private func sent(_ channel: EmbeddedChannel) throws -> [HTTPClientRequestPart] {
        var parts: [HTTPClientRequestPart] = []
        while let part = try channel.readOutbound(as: HTTPClientRequestPart.self) { parts.append(part) }
        return parts
    }

    @Test func aStreamedRequestBodyGoesUpAsItArrives() throws {
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/upload")
        let (channel, exchange, rest, response) = try sendStreamed(head)
        let start = try sent(channel)
        guard case .head(let sentHead) = start.first else { Issue.record("no head: \(start)"); return }
        #expect(sentHead.headers["transfer-encoding"] == ["chunked"], "no length known: chunked")
        #expect(start.count == 2, "head and the first part, not yet the end")

        rest.receive(.body(ByteBuffer(string: "second")))
        channel.embeddedEventLoop.run()
        rest.receive(.end(["grpc-ish": "trailer"]))
        channel.embeddedEventLoop.run()
        let more = try sent(channel)
        #expect(more.count == 2)
        if case .body(.byteBuffer(let chunk)) = more.first { #expect(String(buffer: chunk) == "second") } else { Issue.record("\(more)") }
        if case .end(let trailers) = more.last { #expect(trailers?["grpc-ish"] == ["trailer"]) } else { Issue.record("\(more)") }

        try answer(channel, [.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "2"])),
                             .body(ByteBuffer(string: "ok")), .end(nil)])
        #expect(String(buffer: try response.wait().body) == "ok")
        #expect(exchange.isIdle, "the whole request went up: the connection can be reused")
    }

    @Test func aKnownLengthIsKeptForAStreamedBody() throws {
        let head = HTTPRequestHead(version: .http1_1, method: .PUT, uri: "/blob", headers: ["content-length": "100000"])
        let (channel, _, _, _) = try sendStreamed(head)
        guard case .head(let sentHead) = try sent(channel).first else { Issue.record("no head"); return }
        #expect(sentHead.headers["content-length"] == ["100000"] && !sentHead.headers.contains(name: "transfer-encoding"))
    }

    @Test func anAnswerBeforeTheRequestEndsLeavesTheConnectionUnusable() throws {
        let (channel, exchange, rest, response) = try sendStreamed(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/upload"))
        try answer(channel, [.head(HTTPResponseHead(version: .http1_1, status: .payloadTooLarge, headers: ["content-length": "0"])),
                             .end(nil)])
        #expect(try response.wait().head.status == .payloadTooLarge)
        #expect(!exchange.isIdle, "the upstream saw half a request")
        _ = try sent(channel)
        rest.receive(.body(ByteBuffer(string: "late")))
        channel.embeddedEventLoop.run()
        #expect(try sent(channel).isEmpty, "the rest is dropped")
    }

    @Test func aClientGoneMidRequestResetsTheUpstream() throws {
        let (channel, _, rest, response) = try sendStreamed(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/upload"))
        rest.receive(.failed)
        channel.embeddedEventLoop.run()
        #expect(throws: UpstreamFailure.self) { try response.wait() }
        #expect(!channel.isActive, "the upstream must not take half a body as complete")
    }

    @Test func anExpiredBodyFailsForTheClientAndClosesTheUpstream() throws {
        let (channel, response) = try start(limit: 8)
        try answer(channel, [.head(HTTPResponseHead(version: .http1_1, status: .ok)), .body(ByteBuffer(string: "data"))])
        let rest = try #require(try response.wait().rest)
        let events = Mutex<[String]>([])
        rest.start(on: channel.eventLoop) { event in
            events.withLock { if case .failed = event { $0.append("failed") } else { $0.append("part") } }
        }
        rest.expire()
        channel.embeddedEventLoop.run()
        #expect(events.withLock { $0 } == ["part", "failed"])
        #expect(!channel.isActive, "the upstream stops sending a body nobody takes")
        #expect(rest.expired, "reported as a timeout")

        let (whole, ended) = try start(limit: 8)
        try answer(whole, [.head(HTTPResponseHead(version: .http1_1, status: .ok)), .body(ByteBuffer(string: "data")), .end(nil)])
        let wholeRest = try #require(try ended.wait().rest)
        wholeRest.expire()
        whole.embeddedEventLoop.run()
        #expect(whole.isActive && !wholeRest.expired, "a body that ended before the deadline is left alone")
    }
}
