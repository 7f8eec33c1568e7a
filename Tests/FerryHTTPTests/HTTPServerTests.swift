import FerryHTTP
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Testing

/// The control endpoints' server, live on 127.0.0.1 port 0: whole requests to
/// the handler, bodies bounded, keep-alive as the client asks.
@Suite(.timeLimit(.minutes(1))) struct HTTPServerTests {
    let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func withServer(maxBodySize: Int = 1 << 20, _ body: (Int) async throws -> Void) async throws {
        let server = HTTPServer(host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton,
                                maxBodySize: maxBodySize, logger: logger) { request in
            switch request.path {
            case "/echo": .text("\(request.method.rawValue) \(request.body.readableBytes) \(request.query["q"] ?? "-")")
            default: .error(.notFound, "only /echo here")
            }
        }
        let port = try await server.start()
        try await body(port)
    }

    /// Raw bytes over a socket, as curl would send them; the answer read to
    /// the end (requests say `Connection: close`, or are malformed).
    func exchange(_ port: Int, _ text: String) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: text))
            var answer = ""
            for try await chunk in inbound { answer += String(buffer: chunk) }
            return answer
        }
    }

    @Test func aRequestReachesTheHandlerWhole() async throws {
        try await withServer { port in
            let answer = try await exchange(port, "POST /echo?q=7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello")
            #expect(answer.hasPrefix("HTTP/1.1 200 OK"), "\(answer)")
            #expect(answer.hasSuffix("POST 5 7"), "\(answer)")
        }
    }

    @Test func anUnknownPathIs404WithTheReason() async throws {
        try await withServer { port in
            let answer = try await exchange(port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.1 404"), "\(answer)")
            #expect(answer.contains("only /echo here"), "\(answer)")
        }
    }

    @Test func aBodyOverTheLimitIs413() async throws {
        try await withServer(maxBodySize: 4) { port in
            let answer = try await exchange(port, "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10\r\n\r\n0123456789")
            #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
            #expect(answer.contains("over 4 bytes"), "\(answer)")
        }
    }

    @Test func malformedHTTPIs400() async throws {
        try await withServer { port in
            let answer = try await exchange(port, "GARBAGE\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer)")
        }
    }

    @Test func aNameIsNoListenAddress() async throws {
        let server = HTTPServer(host: "localhost", port: 0, group: MultiThreadedEventLoopGroup.singleton, logger: logger) { _ in .text("") }
        await #expect(throws: ListenError.self) { try await server.start() }
    }
}

/// Which bind failures mean "this node has no such family" (skipped with a
/// notice) and which are real errors (thrown).
@Suite struct ListenerBindingTests {
    @Test(arguments: [
        (EAFNOSUPPORT, true), (EADDRNOTAVAIL, true), (EPROTONOSUPPORT, true), (EADDRINUSE, false), (EACCES, false),
    ])
    func familyMissingIsTheErrnoOfAnAbsentFamily(code: Int32, missing: Bool) {
        #expect(ListenerBinding.familyMissing(IOError(errnoCode: code, reason: "bind")) == missing)
        #expect(ListenerBinding.familyMissing(Errno("bind", code: code)) == missing)
        #expect(ListenerBinding.familyMissing(ListenError(address: ListenAddress("::1", 1), reason: "x", errno: code)) == missing)
    }

    @Test func addressesPrintAsTheyAreDialled() {
        #expect(ListenAddress("::1", 15001).description == "[::1]:15001")
        #expect(ListenAddress("127.0.0.1", 15001).description == "127.0.0.1:15001")
        #expect(ListenAddress.any(port: 15008).host == "::")
    }

    @Test func aSkippedAddressSaysWhichFamilyAndWhy() {
        let notice = ListenerBinding.notice(skipping: ListenAddress("::1", 15001), IOError(errnoCode: EADDRNOTAVAIL, reason: "bind"))
        #expect(notice == "no IPv6 listener on [::1]:15001: the node has no such address (Cannot assign requested address)")
    }
}
