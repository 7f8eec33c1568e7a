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
    private let hosts: [String]
    private let port: Int
    private let drainTimeout: Duration

    public init(context: ProxyContext, group: EventLoopGroup, hosts: [String] = ["127.0.0.1", "::1"],
                port: Int = 15001, drainTimeout: Duration = .seconds(5)) {
        self.context = context
        self.group = group
        self.hosts = hosts
        self.port = port
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
        var channels: [Channel] = []
        for host in hosts {
            do {
                channels.append(try await Self.bootstrap(context: context, group: group).bind(host: host, port: port).get())
                context.logger.info("outbound listener up", metadata: ["ferry.address": "\(host):\(port)"])
            } catch where host.contains(":") {
                // A node without IPv6 loopback still captures IPv4.
                context.logger.warning("no IPv6 outbound listener: \(error)")
            }
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
