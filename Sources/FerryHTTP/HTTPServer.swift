import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// A small HTTP/1.1 server for Ferry's control endpoints (admin API, metrics,
/// readiness, the CA). SwiftNIO's codecs do the protocol; this routes whole
/// requests to an async handler. Runs on its own event loop group, away from the
/// data path, so a scrape never competes with forwarded bytes.
public final class HTTPServer: Service, Sendable {
    public let host: String
    public let port: Int
    private let group: EventLoopGroup
    private let tls: NIOSSLContext?
    private let handler: HTTPHandler
    private let logger: Logger
    private let maxBodySize: Int
    private let bound = NIOLockedValueBox<Channel?>(nil)

    public init(host: String, port: Int, group: EventLoopGroup, tls: NIOSSLContext? = nil,
                maxBodySize: Int = 1 << 20, logger: Logger, handler: @escaping HTTPHandler) {
        self.host = host
        self.port = port
        self.group = group
        self.tls = tls
        self.handler = handler
        self.logger = logger
        self.maxBodySize = maxBodySize
    }

    /// Binds; returns the real port (useful with port 0). `host` is an IP
    /// literal; "::" serves both families where the node has them.
    @discardableResult
    public func start() async throws -> Int {
        if let channel = bound.withLockedValue({ $0 }) { return channel.localAddress?.port ?? port }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [tls, handler, maxBodySize, logger] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        RequestHandler(handler: handler, maxBodySize: maxBodySize, logger: logger, tls: tls != nil)
                    )
                }
            }
        let channel = try await ListenerBinding.bind(bootstrap, at: ListenAddress(host, port))
        bound.withLockedValue { $0 = channel }
        return channel.localAddress?.port ?? port
    }

    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        try? await bound.withLockedValue { $0 }?.close()
    }
}

/// Collects one request, hands it to the async handler, writes the answer.
final class RequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let handler: HTTPHandler
    private let maxBodySize: Int
    private let logger: Logger
    private let tls: Bool
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var tooLarge = false

    init(handler: @escaping HTTPHandler, maxBodySize: Int, logger: Logger, tls: Bool) {
        self.handler = handler
        self.maxBodySize = maxBodySize
        self.logger = logger
        self.tls = tls
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
            tooLarge = false
        case .body(var chunk):
            if body.readableBytes + chunk.readableBytes > maxBodySize {
                tooLarge = true
            } else {
                body.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            if tooLarge {
                write(.error(.payloadTooLarge, "request body over \(maxBodySize) bytes"), head: head, context: context)
                return
            }
            var request = HTTPRequest(method: head.method, uri: head.uri, headers: head.headers, body: body,
                                      remoteAddress: context.channel.remoteAddress)
            if tls, let certificate = try? context.channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self).peerCertificate {
                request.peerCertificateDER = try? certificate.toDERBytes()
            }
            let handler = self.handler
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let promise = context.eventLoop.makePromise(of: HTTPResponse.self)
            promise.completeWithTask { [request] in await handler(request) }
            promise.futureResult.whenSuccess { response in
                let (this, context) = loopBound.value
                this.write(response, head: head, context: context)
            }
        }
    }

    private func write(_ response: HTTPResponse, head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = response.headers
        headers.replaceOrAdd(name: "content-length", value: "\(response.body.readableBytes)")
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        let responseHead = HTTPResponseHead(version: head.version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.debug("control endpoint connection error: \(error)")
        context.close(promise: nil)
    }
}
