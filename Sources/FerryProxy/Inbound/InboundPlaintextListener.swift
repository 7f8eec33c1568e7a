import CLibBPF
import FerryBPF
import FerryHTTP
import FerryMesh
import FerryPolicy
import FerryTelemetry
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The inbound plaintext listener (:15006). The sk_lookup program steers here the
/// connections to enrolled workloads' ports that did not come through an agent;
/// the accepted socket's local address is where the client was going.
/// PeerAuthentication decides: STRICT refuses them, PERMISSIVE lets them through
/// policy with no principal and `connection_security_policy="none"`.
public final class InboundPlaintextListener: Service, Sendable {
    private let context: ProxyContext
    private let group: EventLoopGroup
    private let datapath: FerryDatapath
    private let port: Int

    public init(context: ProxyContext, group: EventLoopGroup, datapath: FerryDatapath, port: Int = 15006) {
        self.context = context
        self.group = group
        self.datapath = datapath
        self.port = port
    }

    public func run() async throws {
        var channels: [Channel] = []
        let slots = [UInt32(FERRY_LISTENER_INBOUND_V4), UInt32(FERRY_LISTENER_INBOUND_V6)]
        for (address, slot) in zip(Listener.loopbacks(port: port), slots) {
            do {
                let fd = try RawListener.make(address)
                let channel = try await Self.bootstrap(context: context, group: group).withBoundSocket(fd).get()
                // Only now does the kernel start steering to it.
                try datapath.registerListener(fd: fd, slot: slot)
                channels.append(channel)
                context.logger.info("inbound plaintext listener up", metadata: ["ferry.address": "\(address)"])
            } catch where ListenerBinding.familyMissing(error) {
                // A node without IPv6 (or without IPv4) steers only the family it has.
                let notice = ListenerBinding.notice(skipping: address, error)
                context.readiness.note(notice)
                context.logger.notice("\(notice)")
            }
        }
        context.readiness.done(.inboundListener)
        try? await gracefulShutdown()
        for channel in channels { try? await channel.close() }
    }

    /// The server bootstrap of every :15006 listener, the node's and those inside
    /// pod namespaces (`PodListeners`).
    static func bootstrap(context: ProxyContext, group: EventLoopGroup) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.recvAllocator, value: Listener.receiveAllocator)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture(withResultOf: { () throws -> Void in
                    try channel.pipeline.syncOperations.addHandler(InboundHold())
                    Self.accept(channel, context: context)
                })
            }
    }

    static func accept(_ channel: Channel, context: ProxyContext) {
        guard let target = IPEndpoint(channel.localAddress), let client = IPEndpoint(channel.remoteAddress) else {
            channel.close(promise: nil)
            return
        }
        let state = context.store.state
        if let workload = state.workload(at: target),
           context.policies.policies(for: state).peerAuthentication.mode(for: workload, port: target.port) == .strict {
            var labels = TrafficLabels(reporter: .destination)
            labels.describeDestination(workload, service: nil, state: state)
            labels.securityPolicy = .none
            labels.responseFlags = .deny
            context.connections.failed(labels)
            context.logger.info("plaintext connection refused: STRICT mTLS", metadata: [
                "ferry.destination": "\(workload.key)", "ferry.port": "\(target.port)", "ferry.peer": "\(client)",
            ])
            OutboundConnection.refuse(channel)
            return
        }
        let peer = InboundPeer(identity: nil, address: client.ip, securityPolicy: .none)
        InboundConnector.open(target: target, peer: peer, on: channel.eventLoop, context: context).whenComplete { result in
            switch result {
            case .success(let opened):
                // A plaintext client's socket (maybe across the network) and the one to the workload.
                context.connections.claim(socketOf: channel, leg: .client, for: opened.record)
                context.connections.claim(socketOf: opened.channel, leg: .server, for: opened.record)
                Splice.join(downstream: channel, upstream: opened.channel, record: opened.record, context: context)
            case .failure:
                OutboundConnection.refuse(channel)
            }
        }
    }
}
