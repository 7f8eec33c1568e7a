import FerryMesh
import FerryTelemetry
import Logging
import NIOCore
import NIOHTTP2
import NIOPosix
import Synchronization

/// Outbound HBONE connections, one per (source identity, destination node,
/// certificate generation), each carrying many CONNECT streams. A rotated
/// certificate starts a new connection for new streams; the old one finishes
/// its streams and is closed once idle.
public final class HBONEPool: Sendable {
    struct Key: Hashable, Sendable {
        var source: SpiffeID
        var node: String
        var generation: String
    }

    final class Entry: Sendable {
        let multiplexer: EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer>
        let channel: EventLoopFuture<Channel>
        let openStreams = Atomic<Int>(0)
        let lastUsed = Mutex<ContinuousClock.Instant>(.now)

        init(multiplexer: EventLoopFuture<NIOHTTP2Handler.StreamMultiplexer>, channel: EventLoopFuture<Channel>) {
            self.multiplexer = multiplexer
            self.channel = channel
        }
    }

    private let group: EventLoopGroup
    private let security: HBONESecurity
    private let logger: Logger
    private let connectTimeout: TimeAmount
    /// Where each connection's socket is claimed for its node pair.
    private let sockets: SocketOwners?
    private let entries = Mutex<[Key: Entry]>([:])
    /// Connections ever opened, for tests and status.
    public let connectionsOpened = Atomic<Int>(0)

    public init(group: EventLoopGroup, security: HBONESecurity, logger: Logger, connectTimeout: TimeAmount = .seconds(5),
                sockets: SocketOwners? = nil) {
        self.sockets = sockets
        self.group = group
        self.security = security
        self.logger = logger
        self.connectTimeout = connectTimeout
    }

    /// Live pooled connections by "source → node".
    public func connections() -> [String: Int] {
        entries.withLock { entries in
            Dictionary(entries.map { ("\($0.key.source.uri) → \($0.key.node)", $0.value.openStreams.load(ordering: .relaxed)) },
                       uniquingKeysWith: +)
        }
    }

    /// Opens a CONNECT stream to `node`'s agent at `address`. `wire` runs on the
    /// stream's event loop as soon as the peer accepts, before any tunnel byte is
    /// delivered; the future completes after that (on the stream's loop).
    func openStream(source: SpiffeID, node: String, address: IPEndpoint, request: HBONERequest,
                    wire: @escaping @Sendable (Channel) throws -> Void) async throws -> Channel {
        let configurator = try await security.clientConfigurator(source: source, node: node)
        let key = Key(source: source, node: node, generation: configurator.generation)
        let entry = entry(for: key, address: address, configurator: configurator)
        let multiplexer = try await entry.multiplexer.get()
        entry.lastUsed.withLock { $0 = .now }
        let established = try await entry.channel.get().eventLoop.makePromise(of: Void.self)
        let stream = try await multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture(withResultOf: { () throws -> Void in
                let connect = HBONEConnectHandler(request: request, established: established) { try wire($0) }
                try stream.pipeline.syncOperations.addHandlers([connect, HTTP2DataBridge()])
            })
        }.get()
        entry.openStreams.wrappingAdd(1, ordering: .relaxed)
        stream.closeFuture.whenComplete { _ in
            entry.openStreams.wrappingSubtract(1, ordering: .relaxed)
            entry.lastUsed.withLock { $0 = .now }
        }
        try await established.futureResult.get()
        return stream
    }

    private func entry(for key: Key, address: IPEndpoint, configurator: ClientConfigurator) -> Entry {
        entries.withLock { entries in
            if let existing = entries[key] { return existing }
            let entry = connect(key: key, address: address, configurator: configurator)
            entries[key] = entry
            return entry
        }
    }

    private func connect(key: Key, address: IPEndpoint, configurator: ClientConfigurator) -> Entry {
        let loop = group.next()
        let multiplexerPromise = loop.makePromise(of: NIOHTTP2Handler.StreamMultiplexer.self)
        let channel: EventLoopFuture<Channel>
        do {
            channel = Listener.markedClient(loop)
                .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(ChannelOptions.recvAllocator, value: Listener.receiveAllocator)
                .connectTimeout(connectTimeout)
                .channelInitializer { [logger] channel in
                    channel.eventLoop.makeCompletedFuture(withResultOf: { () throws -> Void in
                        try configurator.configure(channel)
                        let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                            mode: .client, connectionConfiguration: HBONESettings.peerConnection,
                            streamConfiguration: HBONESettings.peerStream
                        ) { stream in stream.close() }  // peers never open streams toward us
                        try channel.pipeline.syncOperations.addHandler(ConnectionErrorLogger(logger: logger))
                        multiplexerPromise.succeed(multiplexer)
                    })
                }
                .connect(to: try address.nioAddress())
        } catch {
            channel = loop.makeFailedFuture(error)
        }
        channel.whenFailure { multiplexerPromise.fail($0) }
        let entry = Entry(multiplexer: multiplexerPromise.futureResult, channel: channel)
        connectionsOpened.wrappingAdd(1, ordering: .relaxed)
        logger.debug("HBONE connection opening", metadata: ["ferry.source": "\(key.source)", "ferry.node": "\(key.node)"])
        // Forget the connection when it fails or closes; new streams open a new one.
        channel.whenComplete { [weak self] result in
            switch result {
            case .failure:
                self?.remove(key, entry)
            case .success(let channel):
                channel.closeFuture.whenComplete { [weak self] _ in self?.remove(key, entry) }
                if let sockets = self?.sockets { Self.claim(channel, node: key.node, in: sockets) }
            }
        }
        return entry
    }

    /// The connection's socket carries many workload pairs: its RTT and
    /// retransmits are the node pair's.
    static func claim(_ channel: Channel, node: String, in sockets: SocketOwners) {
        FerrySocketOptions.cookie(of: channel).whenSuccess { cookie in
            sockets.register(cookie, .node(node))
            channel.closeFuture.whenComplete { _ in sockets.release([cookie]) }
        }
    }

    private func remove(_ key: Key, _ entry: Entry) {
        entries.withLock { entries in
            if entries[key] === entry { entries[key] = nil }
        }
    }

    /// Closes connections that carried nothing for `idle` (old certificate
    /// generations, nodes no longer talked to).
    public func closeIdle(after idle: Duration) {
        let now = ContinuousClock.now
        let idleEntries = entries.withLock { entries in
            entries.filter { $0.value.openStreams.load(ordering: .relaxed) == 0 && now - $0.value.lastUsed.withLock({ $0 }) > idle }
        }
        for (key, entry) in idleEntries {
            remove(key, entry)
            entry.channel.whenSuccess { $0.close(promise: nil) }
        }
    }
}
