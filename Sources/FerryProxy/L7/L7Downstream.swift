import FerryMesh
import FerryPolicy
import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Wires a captured connection to an HTTP Service port into the L7 proxy:
/// HTTP/1.1 (keep-alive, pipelining answered in order, Upgrade passed through)
/// or HTTP/2 with prior knowledge (each stream its own request).
enum L7Downstream {
    static func start(_ channel: Channel, caller: L7Proxy.Caller, proxy: L7Proxy, context: ProxyContext) {
        channel.eventLoop.assertInEventLoop()
        let sniffer = HTTPVersionSniffer { channel, http2 in
            var caller = caller
            caller.http2 = http2
            if http2 {
                try installHTTP2(channel, caller: caller, proxy: proxy)
            } else {
                try installHTTP1(channel, caller: caller, proxy: proxy, context: context)
            }
        }
        do {
            try channel.pipeline.syncOperations.addHandler(sniffer)
        } catch {
            channel.close(promise: nil)
            return
        }
        context.connections.opened(caller.record)
        channel.closeFuture.whenComplete { _ in context.connections.closed(caller.record) }
        InboundHold.release(channel)
        Splice.startReading(channel)
    }

    static func installHTTP1(_ channel: Channel, caller: L7Proxy.Caller, proxy: L7Proxy, context: ProxyContext) throws {
        let handler = HTTPDownstreamHandler(upgrade: { request, channel in
            Upgrade.start(request, downstream: channel, caller: caller, proxy: proxy, context: context)
        }) { request in
            await proxy.handle(request, caller: caller)
        }
        try channel.pipeline.syncOperations.addHandlers([
            HTTPResponseEncoder(),
            ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)),
            HTTPServerProtocolErrorHandler(),
            handler,
        ])
    }

    static func installHTTP2(_ channel: Channel, caller: L7Proxy.Caller, proxy: L7Proxy) throws {
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: HBONESettings.connection, streamConfiguration: HBONESettings.stream
        ) { stream in
            stream.eventLoop.makeCompletedFuture(withResultOf: { () throws -> Void in
                try stream.pipeline.syncOperations.addHandlers([
                    HTTP2FramePayloadToHTTP1ServerCodec(),
                    HTTPDownstreamHandler { request in await proxy.handle(request, caller: caller) },
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
    static func start(_ request: ProxiedRequest, downstream: Channel, caller: L7Proxy.Caller, proxy: L7Proxy, context: ProxyContext) {
        let loop = downstream.eventLoop
        // Nothing more is read until the upgrade is wired.
        try? downstream.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        Task {
            do {
                let upstream = try await proxy.openUpgrade(request, caller: caller)
                try await loop.submit {
                    try rewire(downstream: downstream, upstream: upstream, record: caller.record, context: context)
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
