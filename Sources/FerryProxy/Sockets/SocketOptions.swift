import CLibBPF
import FerryBPF
import FerryMesh
import NIOCore
import NIOPosix

/// Socket options Ferry reads and sets through NIO.
enum FerrySocketOptions {
    /// `SO_MARK` with Ferry's mark: every socket ferryd opens carries it, so the BPF
    /// programs never capture ferryd's own connections and sockops can track them.
    static let mark = ChannelOptions.Types.SocketOption(
        level: NIOBSDSocket.OptionLevel(rawValue: SOL_SOCKET), name: NIOBSDSocket.Option(rawValue: SO_MARK)
    )
    static let markValue = ChannelOptions.Types.SocketOption.Value(FERRY_SOCKET_MARK)
    /// Whether this process may set SO_MARK (CAP_NET_ADMIN). ferryd refuses
    /// to start without it, so the agent always marks; unprivileged unit
    /// tests, with no BPF program to tell marked sockets apart, skip it.
    static let canMark = !Capabilities.missing().contains("CAP_NET_ADMIN")

    /// Where a captured connection was going and which workload made it, from
    /// `getsockopt(SOL_IP, FERRY_SO_ORIGIN)` (answered by the cgroup/getsockopt program).
    /// nil when the kernel has no record: the connection was not captured.
    static func origin(of channel: Channel) -> EventLoopFuture<ferry_origin?> {
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(nil)
        }
        let future: EventLoopFuture<ferry_origin> = provider.unsafeGetSocketOption(
            level: NIOBSDSocket.OptionLevel(rawValue: CInt(IPPROTO_IP)),
            name: NIOBSDSocket.Option(rawValue: CInt(FERRY_SO_ORIGIN))
        )
        return future.map { origin -> ferry_origin? in origin.socket_cookie == 0 && origin.dst_port == 0 ? nil : origin }
            .recover { _ in nil }
    }

    /// The kernel's socket cookie: the key of the socket's ferry_conns entry.
    static func cookie(of channel: Channel) -> EventLoopFuture<UInt64> {
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeSucceededFuture(0)
        }
        let future: EventLoopFuture<UInt64> = provider.unsafeGetSocketOption(
            level: NIOBSDSocket.OptionLevel(rawValue: SOL_SOCKET), name: NIOBSDSocket.Option(rawValue: 57 /* SO_COOKIE */)
        )
        return future.recover { _ in 0 }
    }

    /// Makes the next close send a TCP reset: how a refused or failed connection is
    /// reported to the client promptly.
    static func resetOnClose(_ channel: Channel) -> EventLoopFuture<Void> {
        guard let provider = channel as? SocketOptionProvider else { return channel.eventLoop.makeSucceededVoidFuture() }
        return provider.setSoLinger(linger(l_onoff: 1, l_linger: 0))
    }
}

extension ferry_origin: @retroactive @unchecked Sendable {}
extension ferry_conn_stats: @retroactive @unchecked Sendable {}

extension ferry_origin {
    /// The original destination.
    var destination: IPEndpoint {
        IPEndpoint(ip: IPAddress(words: dst_addr), port: Int(dst_port))
    }
}

extension IPEndpoint {
    /// The NIO form, for connecting.
    func nioAddress() throws -> NIOCore.SocketAddress {
        try NIOCore.SocketAddress(ipAddress: ip.description, port: port)
    }

    init?(_ address: NIOCore.SocketAddress?) {
        guard let address, let text = address.ipAddress, let ip = IPAddress(text), let port = address.port else { return nil }
        self.init(ip: ip, port: port)
    }
}
