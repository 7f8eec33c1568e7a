import FerryHTTP
import FerryMesh
import Logging
import NIOCore
import NIOPosix

/// A TCP listener whose accepted channels start with reading off, so each one
/// is wired before any byte is read, and that allow half-closed connections.
enum Listener {
    /// Reads grow from 4 KiB up to 256 KiB while a connection streams: fewer system
    /// calls per byte on bulk transfers, small buffers for idle connections.
    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 4096, maximum: 256 * 1024)

    static func bind(_ address: ListenAddress, group: EventLoopGroup, marked: Bool = false,
                     accept: @escaping @Sendable (Channel) -> EventLoopFuture<Void>) async throws -> Channel {
        try await ListenerBinding.bind(bootstrap(group: group, marked: marked, accept: accept), at: address)
    }

    /// Loopback of both families, where a listener must be reachable by the
    /// workloads of its network namespace whichever family they dial.
    static func loopbacks(port: Int) -> [ListenAddress] {
        [ListenAddress("127.0.0.1", port), ListenAddress("::1", port)]
    }

    /// The bootstrap `bind` uses; also for sockets made elsewhere (`withBoundSocket`).
    static func bootstrap(group: EventLoopGroup, marked: Bool = false,
                          accept: @escaping @Sendable (Channel) -> EventLoopFuture<Void>) -> ServerBootstrap {
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.recvAllocator, value: Self.receiveAllocator)
            .childChannelInitializer(accept)
        if marked && FerrySocketOptions.canMark {
            // Accepted sockets inherit the mark: sockops then tracks them as Ferry's.
            bootstrap = bootstrap.serverChannelOption(FerrySocketOptions.mark, value: FerrySocketOptions.markValue)
        }
        return bootstrap
    }

    /// A client bootstrap whose sockets carry Ferry's mark (where it may be set).
    static func markedClient(_ group: EventLoopGroup) -> ClientBootstrap {
        let bootstrap = ClientBootstrap(group: group)
        return FerrySocketOptions.canMark ? bootstrap.channelOption(FerrySocketOptions.mark, value: FerrySocketOptions.markValue) : bootstrap
    }

    /// An outgoing connection from ferryd: marked (never captured), on the given
    /// loop, reading off until wired.
    static func connect(to address: IPEndpoint, on eventLoop: EventLoop, timeout: TimeAmount) -> EventLoopFuture<Channel> {
        do {
            let target = try address.nioAddress()
            return markedClient(eventLoop)
                .channelOption(ChannelOptions.autoRead, value: false)
                .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
                .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(ChannelOptions.recvAllocator, value: Self.receiveAllocator)
                .connectTimeout(timeout)
                .connect(to: target)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }
}
