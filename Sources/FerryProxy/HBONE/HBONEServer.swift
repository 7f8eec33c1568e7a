import FerryHTTP
import FerryMesh
import FerryTelemetry
import Logging
import NIOCore
import NIOHTTP2
import NIOSSL
import NIOPosix
import ServiceLifecycle

/// The HBONE listener (:15008): mutual TLS, then HTTP/2, then one CONNECT stream
/// per tunnelled connection. Malformed HTTP/2 gets a GOAWAY from NIO's protocol
/// handler; a bad request on a stream gets a status with its reason.
public final class HBONEServer: Service, Sendable {
    private let context: ProxyContext
    private let group: EventLoopGroup
    private let security: HBONESecurity
    /// Every address of the node: HBONE arrives at the node's InternalIP,
    /// whichever family it has.
    public let address: ListenAddress

    public init(context: ProxyContext, group: EventLoopGroup, security: HBONESecurity, host: String = "::", port: Int = 15008) {
        self.context = context
        self.group = group
        self.security = security
        self.address = ListenAddress(host, port)
    }

    /// Binds and returns the listening channel (port 0 picks a free port).
    public func bind() async throws -> Channel {
        try await Listener.bind(address, group: group, marked: true) { [context, security] channel in
            channel.eventLoop.makeCompletedFuture(withResultOf: { () throws -> Void in
                try security.configureServer(channel)
                let peer = channel.remoteAddress?.ipAddress.flatMap(IPAddress.init)
                HBONEPool.claim(channel, node: Self.peerNode(peer, in: context.store.state), in: context.connections.sockets)
                _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                    mode: .server, connectionConfiguration: HBONESettings.peerConnection,
                    streamConfiguration: HBONESettings.peerStream
                ) { stream in
                    stream.eventLoop.makeCompletedFuture(withResultOf: { () throws -> Void in
                        let parent = stream.parent ?? channel
                        let handler = HBONEAcceptHandler(
                            context: context, peerIdentity: security.peerIdentity(of: parent),
                            requireIdentity: security.authenticatesPeers,
                            peerAddress: parent.remoteAddress?.ipAddress.flatMap(IPAddress.init)
                        )
                        try stream.pipeline.syncOperations.addHandlers([handler, HTTP2DataBridge()])
                    })
                }
                try channel.pipeline.syncOperations.addHandler(ConnectionErrorLogger(logger: context.logger) { error, peer in
                    security.connectionFailed(error, peer: peer)
                })
                // The connection itself reads freely; streams pace themselves.
                try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            })
        }
    }

    /// The node whose agent connects from `address` ("unknown" when no Node
    /// resource lists it: a peer outside this mesh's configuration).
    static func peerNode(_ address: IPAddress?, in state: MeshState) -> String {
        guard let address else { return "unknown" }
        return state.nodes.values.first { $0.addresses.contains(address) }?.name ?? "unknown"
    }

    public func run() async throws {
        let channel = try await bind()
        context.logger.info("HBONE listener up", metadata: ["ferry.address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        try? await gracefulShutdown()
        try? await channel.close()
    }
}

/// Logs and closes on connection-level errors (bad TLS, protocol violations).
final class ConnectionErrorLogger: ChannelInboundHandler {
    typealias InboundIn = Any
    let logger: Logger
    let onError: (Error, String) -> Void

    init(logger: Logger, onError: @escaping (Error, String) -> Void = { _, _ in }) {
        self.logger = logger
        self.onError = onError
    }

    /// TLS and socket errors end the connection. HTTP/2 errors are NIO's to
    /// handle: it sends GOAWAY for connection errors and resets only the stream
    /// for stream errors, which must not take the other streams down.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let peer = context.channel.remoteAddress.map { "\($0)" } ?? "?"
        onError(error, peer)
        let fatal = error is NIOSSLError || error is IOError || error is ChannelError
        logger.info(fatal ? "HBONE connection closed on error" : "HBONE stream error", metadata: [
            "ferry.peer": "\(peer)", "ferry.error": "\(error)",
        ])
        if fatal { context.close(promise: nil) }
    }
}
