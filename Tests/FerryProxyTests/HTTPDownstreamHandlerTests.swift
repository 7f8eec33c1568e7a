@testable import FerryProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Testing

/// The client side of the L7 proxy over a real loopback socket: answers keep
/// the order of pipelined requests, a half-closed client gets its answers
/// before the close, an oversized body is refused in its turn, and a long
/// body is streamed to the proxy rather than collected.
@Suite struct HTTPDownstreamHandlerTests {
    private static let get = "GET /slow HTTP/1.1\r\nHost: web\r\n\r\n"
    private static let largeBodySize = 8 << 20

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let received = try await exchange(Self.get + "GET /fast HTTP/1.1\r\nHost: web\r\n\r\n") { $0.contains("/fast") }
        let slow = try #require(received.range(of: "\r\n\r\n/slow"))
        let fast = try #require(received.range(of: "\r\n\r\n/fast"))
        #expect(slow.lowerBound < fast.lowerBound)
    }

    @Test func halfClosedClientGetsItsAnswerThenTheClose() async throws {
        // `exchange` returns only at end of input: the server closed after answering.
        let received = try await exchange(Self.get, halfClose: true) { _ in false }
        #expect(received.hasPrefix("HTTP/1.1 200 OK"))
        #expect(received.hasSuffix("\r\n\r\n/slow"))
    }

    @Test func halfClosedClientGetsALargeAnswerWhole() async throws {
        // 8 MiB does not fit in the socket buffers: the close must wait for the writes.
        let received = try await exchange("GET /large HTTP/1.1\r\nHost: web\r\n\r\n", halfClose: true) { _ in false }
        let body = try #require(received.range(of: "\r\n\r\n")).upperBound
        #expect(received[body...].utf8.count == Self.largeBodySize)
    }

    @Test func oversizedBodyIsRefusedAfterTheAnswerBeforeIt() async throws {
        let big = "POST /big HTTP/1.1\r\nHost: web\r\nContent-Length: 10\r\n\r\n0123456789"
        let received = try await exchange(Self.get + big, maxBodySize: 4) { _ in false }
        let slow = try #require(received.range(of: "/slow"))
        let refused = try #require(received.range(of: "HTTP/1.1 413"))
        #expect(slow.lowerBound < refused.lowerBound)
        #expect(received.lowercased().contains("connection: close"))
    }

    /// curl and Java clients send `Expect: 100-continue` before a body and wait
    /// (curl a whole second) for the interim answer; the body then reaches the
    /// proxy, and the Expect stays on this hop.
    @Test func expectContinueIsAnsweredBeforeTheBodyIsSent() async throws {
        let head = "POST /upload HTTP/1.1\r\nHost: web\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        let received = try await exchange(head, then: (after: "\r\n\r\n", send: "hello")) { $0.contains("expect=") }
        #expect(received.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"), "\(received)")
        #expect(received.hasSuffix("\r\n\r\n/upload hello expect=none"), "\(received)")
    }

    @Test func anAnswerToHEADKeepsTheUpstreamContentLength() async throws {
        let received = try await exchange("HEAD /sized HTTP/1.1\r\nHost: web\r\n\r\nGET /after HTTP/1.1\r\nHost: web\r\n\r\n") {
            $0.hasSuffix("/after")
        }
        let answers = received.components(separatedBy: "HTTP/1.1 200 OK")
        #expect(answers.count == 3, "\(received)")
        #expect(answers[1].lowercased().contains("content-length: 1234\r\n"), "the size a GET would return: \(received)")
        #expect(answers[1].hasSuffix("\r\n\r\n"), "no body after the head: \(received)")
    }

    @Test func aShortBodyIsWholeAndALongOneIsStreamed() async throws {
        let short = "POST /count HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\n\r\nhello"
        let whole = try await exchange(short) { $0.hasSuffix("bytes") }
        #expect(whole.hasSuffix("whole 5 bytes"), "\(whole)")

        let size = 3 * HTTPBodyLimit.collected
        let long = "POST /count HTTP/1.1\r\nHost: web\r\nContent-Length: \(size)\r\n\r\n" + String(repeating: "x", count: size)
        let streamed = try await exchange(long + Self.get) { $0.hasSuffix("/slow") }
        #expect(streamed.contains("streamed \(size) bytes"), "\(streamed.prefix(300))")
        #expect(streamed.hasSuffix("\r\n\r\n/slow"), "the connection carries the next request")
    }

    /// A chunked body whose end has not come yet (a client-streaming call)
    /// reaches the proxy at once; the rest follows when the client sends it.
    @Test func aBodyThatHasNotEndedReachesTheProxyAtOnce() async throws {
        let head = "POST /first-part HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        let received = try await exchange(head, then: (after: "first part: hello", send: "3\r\nbye\r\n0\r\n\r\n")) {
            $0.hasSuffix("0\r\n\r\n")
        }
        #expect(received.contains("first part: hello"), "\(received)")
        #expect(received.contains("then: bye"), "\(received)")
    }

    @Test func anAnswerBeforeTheBodyEndsClosesAnHTTP1Connection() async throws {
        let partial = "POST /refuse HTTP/1.1\r\nHost: web\r\nContent-Length: 10000000\r\n\r\n" + String(repeating: "x", count: 100_000)
        // `exchange` returns only at end of input: the server closed after answering.
        let received = try await exchange(partial) { _ in false }
        #expect(received.hasPrefix("HTTP/1.1 200 OK") && received.hasSuffix("/refuse"), "\(received)")
        #expect(received.lowercased().contains("connection: close"))
    }

    /// Sends `request` to a server whose proxy answers with the request path
    /// (`/slow` after 100 ms, 8 MiB of "x" for `/large`, path, body and Expect
    /// header for `/upload`, how the body came for `/count`, at once for
    /// `/refuse`, a streamed answer echoing the body's parts for `/first-part`)
    /// and reads until `done` or the server closes. With
    /// `then`, sends more once the answer so far contains `after`.
    private func exchange(_ request: String, then: (after: String, send: String)? = nil, halfClose: Bool = false,
                          maxBodySize: Int = 1 << 20, until done: @escaping @Sendable (String) -> Bool) async throws -> String {
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        HTTPResponseEncoder(),
                        ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)),
                        HTTPServerProtocolErrorHandler(),
                        HTTPDownstreamHandler(maxBodySize: maxBodySize) { request in
                            if request.head.uri == "/slow" { try? await Task.sleep(for: .milliseconds(100)) }
                            if request.head.uri == "/count" {
                                let (bytes, streamed) = await Self.drain(request)
                                return ProxiedResponse(head: HTTPResponseHead(version: .http1_1, status: .ok),
                                                       body: ByteBuffer(string: "\(streamed ? "streamed" : "whole") \(bytes) bytes"), trailers: nil)
                            }
                            if request.head.uri == "/first-part" { return Self.echoParts(request) }
                            if request.head.uri == "/sized" {  // what an upstream answers to HEAD
                                return ProxiedResponse(head: HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "1234"]),
                                                       body: ByteBuffer(), trailers: nil)
                            }
                            let body = switch request.head.uri {
                            case "/large": ByteBuffer(repeating: UInt8(ascii: "x"), count: Self.largeBodySize)
                            case "/upload":
                                ByteBuffer(string: "/upload \(String(buffer: request.body)) expect=\(request.head.headers["expect"].first ?? "none")")
                            default: ByteBuffer(string: request.head.uri)
                            }
                            return ProxiedResponse(head: HTTPResponseHead(version: .http1_1, status: .ok), body: body, trailers: nil)
                        },
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: nil) }
        let client = try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .connect(host: "127.0.0.1", port: server.localAddress!.port!) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
        return try await withThrowingTaskGroup(of: String?.self) { tasks in
            tasks.addTask {
                try await client.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: request))
                    if halfClose { outbound.finish() }
                    var received = ""
                    var more = then
                    for try await chunk in inbound {
                        received += String(buffer: chunk)
                        if let next = more, received.contains(next.after) {
                            more = nil
                            try await outbound.write(ByteBuffer(string: next.send))
                        }
                        if done(received) { break }
                    }
                    return received
                }
            }
            tasks.addTask {
                try await Task.sleep(for: .seconds(5))
                return nil
            }
            let first = try await tasks.next()!
            tasks.cancelAll()
            return try #require(first, "no answer within 5 s")
        }
    }

    /// Reads a request's streamed rest to its end: the body's size and whether it was streamed.
    private static func drain(_ request: ProxiedRequest) async -> (Int, Bool) {
        guard let rest = request.rest else { return (request.bodySize, false) }
        let received = await withCheckedContinuation { (done: CheckedContinuation<Int, Never>) in
            rest.start(on: MultiThreadedEventLoopGroup.singleton.next()) { event in
                switch event {
                case .body(let chunk): rest.written(chunk.readableBytes)
                case .end: done.resume(returning: rest.receivedBytes)
                case .failed: done.resume(returning: -1)
                }
            }
        }
        return (request.bodySize + received, true)
    }

    /// Answers at once with a streamed body: "first part: <body so far>", then
    /// "then: <part>" for each part that follows, ending when the request does.
    private static func echoParts(_ request: ProxiedRequest) -> ProxiedResponse {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let answer = BodyStream.response(from: EmbeddedChannel())
        let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["transfer-encoding": "chunked"])
        request.rest?.start(on: loop) { event in
            switch event {
            case .body(let chunk):
                answer.receive(.body(ByteBuffer(string: "then: \(String(buffer: chunk))")))
                request.rest?.written(chunk.readableBytes)
            case .end, .failed: answer.receive(.end(nil))
            }
        }
        return ProxiedResponse(head: head, body: ByteBuffer(string: "first part: \(String(buffer: request.body))"), trailers: nil, rest: answer)
    }
}
