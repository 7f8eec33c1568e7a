import FerryHTTP
import FerryMesh
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The outbound capture listener (:15001 on 127.0.0.1 and ::1): connections the
/// BPF connect hooks redirected from enrolled workloads arrive here.
public final class OutboundListener: Service, Sendable {
    private let context: ProxyContext
    private let group: EventLoopGroup
    private let addresses: [ListenAddress]
    private let drainTimeout: Duration

    public init(context: ProxyContext, group: EventLoopGroup, port: Int = 15001, drainTimeout: Duration = .seconds(5)) {
        self.context = context
        self.group = group
        self.addresses = Listener.loopbacks(port: port)
        self.drainTimeout = drainTimeout
    }

    /// Accepted connections are held (`InboundHold`) and routed.
    static func bootstrap(context: ProxyContext, group: EventLoopGroup) -> ServerBootstrap {
        Listener.bootstrap(group: group) { channel in
            channel.eventLoop.makeCompletedFuture(withResultOf: { () throws -> Void in
                try channel.pipeline.syncOperations.addHandler(InboundHold())
                OutboundConnection.start(channel, context: context)
            })
        }
    }

    public func run() async throws {
        // A node without IPv6 loopback still captures IPv4, and the reverse.
        let channels = try await ListenerBinding.bind(Self.bootstrap(context: context, group: group), at: addresses) {
            context.readiness.note($1)
            context.logger.notice("\($1)")
        }
        for channel in channels {
            context.logger.info("outbound listener up", metadata: ["ferry.address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        }
        context.readiness.done(.outboundListener)
        try? await gracefulShutdown()
        for channel in channels { try? await channel.close() }
        // Let live connections finish, up to the drain timeout.
        let deadline = ContinuousClock.now + drainTimeout
        while context.connections.count > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
