import NIOCore
import NIOHTTP1

/// The client-facing end of the L7 proxy, on a captured connection (HTTP/1.1)
/// or on one HTTP/2 stream (behind NIO's HTTP/2→HTTP/1 codec): collects each
/// request, hands it to the proxy, writes the answer. Requests on one HTTP/1.1
/// connection are answered in order (NIO's pipelining assistance holds the next
/// one back); HTTP/2 streams run concurrently, each on its own channel.
final class HTTPDownstreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    typealias Handle = @Sendable (ProxiedRequest) async -> ProxiedResponse
    /// Takes over the connection for an Upgrade (WebSocket): the request goes
    /// upstream as bytes and the two sides are spliced.
    typealias Upgrade = @Sendable (ProxiedRequest, Channel) -> Void

    private let handle: Handle
    private let upgrade: Upgrade?
    private let maxBodySize: Int
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false
    /// Request tasks run on this connection's event loop (see EventLoopTaskExecutor).
    private var executor: EventLoopTaskExecutor?

    init(maxBodySize: Int = 64 << 20, upgrade: Upgrade? = nil, handle: @escaping Handle) {
        self.handle = handle
        self.upgrade = upgrade
        self.maxBodySize = maxBodySize
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = context.channel.allocator.buffer(capacity: 0)
            tooLarge = false
            if let upgrade, Self.isUpgrade(head) {
                self.head = nil
                upgrade(ProxiedRequest(head: head, body: body, trailers: nil), context.channel)
            }
        case .body(var chunk):
            guard head != nil else { return }
            if body.readableBytes + chunk.readableBytes > maxBodySize {
                tooLarge = true
            } else {
                body.writeBuffer(&chunk)
            }
        case .end(let trailers):
            guard let head else { return }
            self.head = nil
            if tooLarge {
                write(.local(.payloadTooLarge, reason: "request body over \(maxBodySize) bytes", version: head.version),
                      keepAlive: false, context: context)
                return
            }
            let request = ProxiedRequest(head: head, body: body, trailers: trailers)
            let keepAlive = head.isKeepAlive
            let handle = self.handle
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let promise = context.eventLoop.makePromise(of: ProxiedResponse.self)
            let executor = self.executor ?? EventLoopTaskExecutor(context.eventLoop)
            self.executor = executor
            Task(executorPreference: executor) { promise.succeed(await handle(request)) }
            promise.futureResult.whenSuccess { response in
                let (this, context) = bound.value
                this.write(response, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func write(_ response: ProxiedResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        var head = response.head
        HopByHop.strip(&head.headers)
        head.headers.remove(name: "content-length")
        if response.trailers == nil || head.version.major >= 2 {
            head.headers.replaceOrAdd(name: "content-length", value: "\(response.body.readableBytes)")
        }
        if !keepAlive && head.version.major < 2 { head.headers.replaceOrAdd(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if response.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(response.trailers))).whenComplete { [channel = context.channel] _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    static func isUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.headers.contains(name: "upgrade")
            && head.headers["connection"].contains { $0.lowercased().contains("upgrade") }
            && head.headers["upgrade"].first?.lowercased() != "h2c"
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Malformed HTTP: NIO's error handler has answered 400 where it could.
        context.close(promise: nil)
    }
}
