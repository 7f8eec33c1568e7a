@testable import FerryProxy
import FerryMesh
import FerryTelemetry
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import Prometheus
import Synchronization
import Testing

/// The HBONE tunnel end to end in one process over loopback, with plaintext
/// HTTP/2 (TLS is tested in FerryIdentity): CONNECT, bytes both ways,
/// half-close, refusals, and many streams on one pooled connection.
@Suite struct HBONETunnelTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    /// An agent for node "b" whose workload "echo" answers on 127.0.0.1:<port>.
    func makeAgent(echoPort: Int) throws -> ProxyContext {
        let yaml = """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: echo, namespace: demo, annotations: {ferry.dev/node: b}}
        spec: {address: 127.0.0.1, ports: {tcp: \(echoPort)}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: elsewhere, namespace: demo, annotations: {ferry.dev/node: c}}
        spec: {address: 127.0.0.2}
        """
        let state = try MeshState(resources: ResourceDecoder.decode(yaml: yaml, file: "t.yaml"), generation: 1)
        let registry = PrometheusCollectorRegistry()
        return ProxyContext(node: "b", store: StateStore(state), enrollment: EnrollmentTable(),
                            connections: ConnectionTable(metrics: TCPMetrics(registry: registry)),
                            accessLog: AccessLog(enabled: false), policyMetrics: PolicyMetrics(registry: registry),
                            logger: Logger(label: "test"))
    }

    /// A TCP echo server that half-closes when its client does.
    func startEcho() async throws -> Channel {
        try await ServerBootstrap(group: group)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { $0.pipeline.addHandler(EchoHandler()) }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    static let source = SpiffeID(trustDomain: "cluster.local", namespace: "demo", serviceAccount: "client")

    /// An echo workload behind node b's HBONE server, and a client pool: what
    /// the pooled-stream tests share. The caller closes `echo` and `listener`.
    func tunnel() async throws -> (echo: Channel, listener: Channel, pool: HBONEPool, agent: IPEndpoint, target: IPEndpoint) {
        let echo = try await startEcho()
        let context = try makeAgent(echoPort: echo.localAddress!.port!)
        let server = HBONEServer(context: context, group: group, security: PlaintextHBONE(claimedIdentity: Self.source), host: "127.0.0.1", port: 0)
        let listener = try await server.bind()
        let pool = HBONEPool(group: group, security: PlaintextHBONE(), logger: Logger(label: "test"))
        return (echo, listener, pool, IPEndpoint(ip: IPAddress("127.0.0.1")!, port: listener.localAddress!.port!),
                IPEndpoint("127.0.0.1:\(echo.localAddress!.port!)")!)
    }

    @Test func carriesBytesBothWaysAndHalfCloses() async throws {
        let echo = try await startEcho()
        let context = try makeAgent(echoPort: echo.localAddress!.port!)
        let server = HBONEServer(context: context, group: group, security: PlaintextHBONE(claimedIdentity: Self.source), host: "127.0.0.1", port: 0)
        let listener = try await server.bind()
        let pool = HBONEPool(group: group, security: PlaintextHBONE(), logger: Logger(label: "test"))
        let collector = Collector()
        let stream = try await pool.openStream(
            source: Self.source, node: "b", address: IPEndpoint(ip: IPAddress("127.0.0.1")!, port: listener.localAddress!.port!),
            request: HBONERequest(authority: IPEndpoint("127.0.0.1:\(echo.localAddress!.port!)")!)
        ) { try $0.pipeline.syncOperations.addHandler(collector) }
        try await stream.writeAndFlush(ByteBuffer(string: "hello through the mesh")).get()
        try await stream.close(mode: .output).get()
        try await stream.closeFuture.get()
        #expect(collector.text == "hello through the mesh")
        #expect(collector.sawEndOfInput)
        #expect(await poll { context.connections.closedTotal.load(ordering: .relaxed) == 1 })
        try await listener.close()
        try await echo.close()
    }

    @Test func manyStreamsShareOneConnection() async throws {
        let (echo, listener, pool, agent, target) = try await tunnel()
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let collector = Collector()
                    let stream = try await pool.openStream(source: Self.source, node: "b", address: agent,
                                                           request: HBONERequest(authority: target)) {
                        try $0.pipeline.syncOperations.addHandler(collector)
                    }
                    try await stream.writeAndFlush(ByteBuffer(string: "stream \(index)")).get()
                    try await stream.close(mode: .output).get()
                    try await stream.closeFuture.get()
                    return collector.text
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(Set(results) == Set((0..<200).map { "stream \($0)" }))
        #expect(pool.connectionsOpened.load(ordering: .relaxed) == 1)
        try await listener.close()
        try await echo.close()
    }

    /// A client that drops many connections at once resets many streams; that
    /// must not look like a rapid-reset attack and cost the connection every
    /// other stream rides on.
    @Test func abortedStreamsDoNotCloseTheConnection() async throws {
        let (echo, listener, pool, agent, target) = try await tunnel()
        let survivor = Collector()
        let longLived = try await pool.openStream(source: Self.source, node: "b", address: agent,
                                                  request: HBONERequest(authority: target)) {
            try $0.pipeline.syncOperations.addHandler(survivor)
        }
        for _ in 0..<500 {
            let stream = try await pool.openStream(source: Self.source, node: "b", address: agent,
                                                   request: HBONERequest(authority: target)) { _ in }
            stream.close(promise: nil)  // both directions at once: RST_STREAM CANCEL
            try await stream.closeFuture.get()
        }
        try await longLived.writeAndFlush(ByteBuffer(string: "still here")).get()
        try await longLived.close(mode: .output).get()
        try await longLived.closeFuture.get()
        #expect(survivor.text == "still here")
        #expect(pool.connectionsOpened.load(ordering: .relaxed) == 1)
        try await listener.close()
        try await echo.close()
    }

    @Test func refusesWhatItCannotCarry() async throws {
        let echo = try await startEcho()
        let context = try makeAgent(echoPort: echo.localAddress!.port!)
        let server = HBONEServer(context: context, group: group, security: PlaintextHBONE(), host: "127.0.0.1", port: 0)
        let listener = try await server.bind()
        let pool = HBONEPool(group: group, security: PlaintextHBONE(), logger: Logger(label: "test"))
        let agent = IPEndpoint(ip: IPAddress("127.0.0.1")!, port: listener.localAddress!.port!)

        func status(for authority: String) async -> Int? {
            do {
                _ = try await pool.openStream(source: Self.source, node: "b", address: agent,
                                              request: HBONERequest(authority: IPEndpoint(authority)!)) { _ in }
                return 200
            } catch let refused as HBONEConnectHandler.Refused {
                return refused.status
            } catch {
                return nil
            }
        }
        // A workload of another node, and an address that is no workload at all.
        #expect(await status(for: "127.0.0.2:80") == 400)
        #expect(await status(for: "127.0.0.9:80") == 400)
        // This node's workload, but nothing listens on that port: 503, promptly.
        let closedPort = try await startEcho()
        let port = closedPort.localAddress!.port!
        try await closedPort.close()
        let context2 = try makeAgent(echoPort: port)
        let server2 = HBONEServer(context: context2, group: group, security: PlaintextHBONE(), host: "127.0.0.1", port: 0)
        let listener2 = try await server2.bind()
        let start = ContinuousClock.now
        do {
            _ = try await pool.openStream(source: Self.source, node: "b",
                                          address: IPEndpoint(ip: IPAddress("127.0.0.1")!, port: listener2.localAddress!.port!),
                                          request: HBONERequest(authority: IPEndpoint("127.0.0.1:\(port)")!)) { _ in }
            Issue.record("expected a refusal")
        } catch let refused as HBONEConnectHandler.Refused {
            #expect(refused.status == 503)
        }
        #expect(ContinuousClock.now - start < .seconds(2))
        try await listener.close()
        try await listener2.close()
        try await echo.close()
    }

    @Test func aNonConnectRequestGets400AndTheConnectionSurvives() async throws {
        let echo = try await startEcho()
        let context = try makeAgent(echoPort: echo.localAddress!.port!)
        let server = HBONEServer(context: context, group: group, security: PlaintextHBONE(), host: "127.0.0.1", port: 0)
        let listener = try await server.bind()
        let statuses = StatusCollector()
        // The HTTP/2 handler goes in before connecting, or the server's preface
        // could arrive first and be dropped.
        let multiplexerBox = Mutex<NIOHTTP2Handler.StreamMultiplexer?>(nil)
        let client = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture(withResultOf: { () throws -> Void in
                    let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()) { $0.close() }
                    multiplexerBox.withLock { $0 = multiplexer }
                })
            }
            .connect(to: listener.localAddress!).get()
        let multiplexer = try #require(multiplexerBox.withLock { $0 })
        for headers in [[":method": "GET", ":path": "/", ":scheme": "http", ":authority": "x"],
                        [":method": "CONNECT", ":authority": "not-an-address"]] {
            let stream = try await multiplexer.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture(withResultOf: { () throws -> Void in
                    try stream.pipeline.syncOperations.addHandler(statuses)
                })
            }.get()
            try await stream.writeAndFlush(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders(headers.map { ($0.key, $0.value) }), endStream: true))).get()
            try await stream.closeFuture.get()
        }
        #expect(statuses.values == ["400", "400"])
        #expect(client.isActive, "a bad stream does not take the connection down")
        try await client.close()
        try await listener.close()
        try await echo.close()
    }
}

final class EchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(mode: .output, promise: nil)
        }
    }
}

/// Collects the bytes a tunnel delivers.
final class Collector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let state = Mutex<(text: String, ended: Bool)>(("", false))

    var text: String { state.withLock { $0.text } }
    var sawEndOfInput: Bool { state.withLock { $0.ended } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        state.withLock { $0.text += String(buffer: buffer) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            state.withLock { $0.ended = true }
        }
    }
}

/// Records the :status of responses.
final class StatusCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTP2Frame.FramePayload
    private let state = Mutex<[String]>([])
    var values: [String] { state.withLock { $0 } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .headers(let headers) = unwrapInboundIn(data), let status = headers.headers.first(name: ":status") {
            state.withLock { $0.append(status) }
        }
    }
}

func poll(timeout: Duration = .seconds(3), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}
