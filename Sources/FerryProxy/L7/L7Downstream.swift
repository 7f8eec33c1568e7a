import FerryMesh
import FerryPolicy
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// What answers the requests of one downstream connection: the L7 proxy
/// acting as a waypoint (`WaypointRequests`), or a destination agent checking
/// its own workload's rules (`InboundRequestGate`).
protocol HTTPRequestHandling: Sendable {
    /// One request, whole or streaming; `http2` says how the client speaks.
    func handle(_ request: ProxiedRequest, http2: Bool) async -> ProxiedResponse
    /// For an Upgrade (WebSocket): a raw stream to where the request goes,
    /// with the request head already sent on it and reading held.
    func openUpgrade(_ request: ProxiedRequest) async throws -> Channel
}

/// The L7 proxy for a captured connection to an HTTP Service port.
struct WaypointRequests: HTTPRequestHandling {
    let caller: L7Proxy.Caller
    let proxy: L7Proxy

    func handle(_ request: ProxiedRequest, http2: Bool) async -> ProxiedResponse {
        var caller = caller
        caller.http2 = http2
        return await proxy.handle(request, caller: caller)
    }

    func openUpgrade(_ request: ProxiedRequest) async throws -> Channel {
        try await proxy.openUpgrade(request, caller: caller)
    }
}

/// Wires a connection whose bytes are HTTP to a request handler: HTTP/1.1
/// (keep-alive, pipelining answered in order, Upgrade passed through) or
/// HTTP/2 with prior knowledge (each stream its own request).
enum L7Downstream {
    static func start(_ channel: Channel, caller: L7Proxy.Caller, proxy: L7Proxy, context: ProxyContext) {
        start(channel, record: caller.record, requests: WaypointRequests(caller: caller, proxy: proxy), context: context)
    }

    /// `record` is registered now and reported when the channel closes.
    static func start(_ channel: Channel, record: ConnectionRecord, requests: some HTTPRequestHandling, context: ProxyContext) {
        channel.eventLoop.assertInEventLoop()
        let sniffer = HTTPVersionSniffer { channel, http2 in
            if http2 {
                try installHTTP2(channel, requests: requests)
            } else {
                try installHTTP1(channel, record: record, requests: requests, context: context)
            }
        }
        do {
            try channel.pipeline.syncOperations.addHandler(sniffer)
        } catch {
            channel.close(promise: nil)
            return
        }
        context.connections.opened(record)
        channel.closeFuture.whenComplete { _ in context.connections.closed(record) }
        InboundHold.release(channel)
        Splice.startReading(channel)
    }

    static func installHTTP1(_ channel: Channel, record: ConnectionRecord, requests: some HTTPRequestHandling,
                             context: ProxyContext) throws {
        let handler = HTTPDownstreamHandler(upgrade: { request, channel in
            Upgrade.start(request, downstream: channel, record: record, requests: requests, context: context)
        }) { request in
            await requests.handle(request, http2: false)
        }
        try channel.pipeline.syncOperations.addHandlers([
            HTTPResponseEncoder(),
            ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)),
            HTTPServerProtocolErrorHandler(),
            handler,
        ])
    }

    static func installHTTP2(_ channel: Channel, requests: some HTTPRequestHandling) throws {
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: HBONESettings.connection, streamConfiguration: HBONESettings.stream
        ) { stream in
            stream.eventLoop.makeCompletedFuture(withResultOf: { () throws -> Void in
                try stream.pipeline.syncOperations.addHandlers([
                    HTTP2FramePayloadToHTTP1ServerCodec(),
                    HTTPDownstreamHandler { request in await requests.handle(request, http2: true) },
                ])
            })
        }
        try channel.pipeline.syncOperations.addHandler(HTTP2ConnectionEnd())
    }
}

/// WebSocket and other Upgrades: the request is routed like any other, then the
/// connection stops being HTTP and bytes are spliced to the chosen endpoint,
/// whose 101 (or refusal) reaches the client as it is.
enum Upgrade {
    static func start(_ request: ProxiedRequest, downstream: Channel, record: ConnectionRecord,
                      requests: some HTTPRequestHandling, context: ProxyContext) {
        let loop = downstream.eventLoop
        // Nothing more is read until the upgrade is wired.
        try? downstream.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        Task {
            do {
                let upstream = try await requests.openUpgrade(request)
                try await loop.submit {
                    try rewire(downstream: downstream, upstream: upstream, record: record, context: context)
                }.get()
            } catch {
                loop.execute {
                    let head = HTTPResponseHead(version: request.head.version, status: .badGateway,
                                                headers: ["content-length": "0", "connection": "close"])
                    downstream.writeAndFlush(HTTPServerResponsePart.head(head), promise: nil)
                    downstream.writeAndFlush(HTTPServerResponsePart.end(nil)).whenComplete { _ in downstream.close(promise: nil) }
                }
            }
        }
    }

    /// Writes an Upgrade request's head, as HTTP/1.1 bytes, on a raw stream.
    static func send(_ head: HTTPRequestHead, on channel: Channel) async throws {
        var bytes = ByteBuffer(string: "\(head.method.rawValue) \(head.uri) HTTP/1.1\r\n")
        for (name, value) in head.headers { bytes.writeString("\(name): \(value)\r\n") }
        bytes.writeString("\r\n")
        try await channel.writeAndFlush(bytes).get()
    }

    /// Drops the HTTP handlers (the decoder hands on any bytes it held) and
    /// splices the two channels.
    static func rewire(downstream: Channel, upstream: Channel, record: ConnectionRecord, context: ProxyContext) throws {
        let pipeline = downstream.pipeline.syncOperations
        let (onClient, onUpstream) = Splice.forwarders(for: record)
        try pipeline.addHandler(onClient)
        let http = try pipeline.handler(type: HTTPDownstreamHandler.self)
        let clientHalfClosed = http.inputClosed
        pipeline.removeHandler(http, promise: nil)
        pipeline.removeHandler(try pipeline.handler(type: HTTPServerProtocolErrorHandler.self), promise: nil)
        pipeline.removeHandler(try pipeline.handler(type: HTTPResponseEncoder.self), promise: nil)
        pipeline.removeHandler(try pipeline.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
        // The client half-closed while the upgrade was being wired (it wrote
        // and shut down at once): the HTTP handler kept that to itself. The
        // splice learns it after the bytes the decoder handed on, so the
        // upstream gets them before its write side is shut.
        if clientHalfClosed {
            onClient.userInboundEventTriggered(context: try pipeline.context(handler: onClient), event: ChannelEvent.inputClosed)
        }
        let onUpstreamBox = UnsafeTransfer(onUpstream)  // joins the upstream's pipeline, on its loop
        upstream.eventLoop.execute {
            do {
                try upstream.pipeline.syncOperations.addHandler(onUpstreamBox.value)
                InboundHold.release(upstream)
                Splice.startReading(upstream)
            } catch {
                upstream.close(promise: nil)
            }
        }
        Splice.startReading(downstream)
    }
}
