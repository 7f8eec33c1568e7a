import FerryMesh
import FerryPolicy
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import Synchronization

/// Keep-alive connections from the L7 proxy to endpoints. An endpoint on this
/// node is reached over a direct (marked) socket; one on another node over an
/// HBONE stream (whose destination agent checks its workload's rules again).
/// HTTP/1.1
/// endpoints get a set of connections, one exchange each at a time; HTTP/2
/// (h2c, gRPC) endpoints get one multiplexed connection.
final class UpstreamPool: Sendable {
    /// An endpoint as the pool tells them apart.
    struct Key: Hashable, Sendable {
        var address: IPEndpoint
        var http2: Bool
    }

    /// How to reach an endpoint.
    struct Route: Sendable {
        var key: Key
        var node: String?
        var agent: IPEndpoint?
        /// Who the HBONE stream speaks for; nil only for endpoints on this node.
        var source: Workload?
        var sourceIdentity: SpiffeID?
        /// Where a new local connection lives: the client connection's loop.
        var eventLoop: EventLoop
    }

    final class Connection: Sendable {
        let channel: Channel
        /// HTTP/1.1: the exchange handler; HTTP/2: nil (streams are made per request).
        let exchange: NIOLoopBound<UpstreamExchange>?
        let multiplexer: NIOHTTP2Handler.StreamMultiplexer?

        init(channel: Channel, exchange: NIOLoopBound<UpstreamExchange>?, multiplexer: NIOHTTP2Handler.StreamMultiplexer?) {
            self.channel = channel
            self.exchange = exchange
            self.multiplexer = multiplexer
        }
    }

    private let context: ProxyContext
    private let idle = Mutex<[Key: [Connection]]>([:])
    private let http2 = Mutex<[Key: Task<Connection, Error>]>([:])

    init(context: ProxyContext) {
        self.context = context
    }

    /// Asked before a connection is opened (circuit breaking): nil refuses
    /// it; otherwise what to run once, when that connection has closed or
    /// failed to open.
    typealias ConnectionAdmission = @Sendable () -> (@Sendable () -> Void)?

    /// Sends one request to an endpoint and returns its response.
    func exchange(_ request: ProxiedRequest, route: Route, admitConnection: ConnectionAdmission) async throws -> ProxiedResponse {
        if route.key.http2 {
            let connection = try await http2Connection(route)
            return try await sendOnStream(request, connection: connection)
        }
        if let reused = takeIdle(route.key, preferring: route.eventLoop) {
            do {
                return try await send(request, on: reused, key: route.key)
            } catch let failure as UpstreamFailure where Self.mayResendOnAFreshConnection(request, after: failure) {
                // The server closed the keep-alive connection as it was handed
                // the request (an idle timeout, a policy change): once more on
                // a new connection, as HTTP clients do (RFC 9110 §9.2.2).
                reused.channel.close(promise: nil)
            }
        }
        guard let closed = admitConnection() else { throw UpstreamFailure.overflow("maxConnections to \(route.key.address)") }
        let connection: Connection
        do {
            connection = try await open(route)
        } catch {
            closed()
            throw error
        }
        connection.channel.closeFuture.whenComplete { _ in closed() }
        return try await send(request, on: connection, key: route.key)
    }

    /// After a reused connection failed before any answer: a request none of
    /// which was written may always go again; one that was written, only when
    /// its method is idempotent and its body is whole.
    static func mayResendOnAFreshConnection(_ request: ProxiedRequest, after failure: UpstreamFailure) -> Bool {
        guard case .closedBeforeAnswer(let sent) = failure, request.rest == nil else { return false }
        return !sent || [.GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE].contains(request.head.method)
    }

    /// One exchange on an HTTP/1.1 connection; it goes back to the pool when
    /// reusable, at the end of a streamed body if there is one.
    private func send(_ request: ProxiedRequest, on connection: Connection, key: Key) async throws -> ProxiedResponse {
        let loop = connection.channel.eventLoop
        let (response, reusable) = try await loop.onLoop {
            let exchange = connection.exchange!
            return exchange.value.send(request, on: loop).map { ($0, exchange.value.isIdle) }
        }.get()
        let release: @Sendable (Bool) -> Void = { reusable in
            if reusable { self.putIdle(key, connection) } else { connection.channel.close(promise: nil) }
        }
        // A streamed body still holds the connection; it comes back at the body's end.
        if let rest = response.rest { rest.whenProducerFinished(release) } else { release(reusable) }
        return response
    }

    /// An idle connection to `key`, one on `loop` if there is one: the
    /// exchange then stays on the client connection's thread. Asked per
    /// request, so it hashes the key once and looks only at the candidates it
    /// takes (closed connections leave the list through `forget`).
    private func takeIdle(_ key: Key, preferring loop: EventLoop) -> Connection? {
        idle.withLock { idle in
            guard let slot = idle.index(forKey: key) else { return nil }
            return idle.values[slot].take(preferring: loop)
        }
    }

    private func putIdle(_ key: Key, _ connection: Connection) {
        idle.withLock { $0[key, default: []].append(connection) }
    }

    /// A transport to the endpoint with HTTP/1 client handlers on top.
    private func open(_ route: Route) async throws -> Connection {
        let channel = try await transport(route) { channel in
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            try channel.pipeline.syncOperations.addHandler(UpstreamExchange())
        }
        let exchange = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: UpstreamExchange.self), eventLoop: channel.eventLoop)
        }.get()
        channel.closeFuture.whenComplete { [weak self] _ in self?.forget(channel, key: route.key) }
        return Connection(channel: channel, exchange: exchange, multiplexer: nil)
    }

    private func forget(_ channel: Channel, key: Key) {
        idle.withLock { idle in idle[key]?.removeAll { $0.channel === channel } }
        http2.withLock { http2 in
            if let task = http2[key] {
                Task { if (try? await task.value)?.channel === channel { self.http2.withLock { _ = $0.removeValue(forKey: key) } } }
            }
        }
    }

    /// One shared HTTP/2 connection per endpoint.
    private func http2Connection(_ route: Route) async throws -> Connection {
        let task = http2.withLock { http2 -> Task<Connection, Error> in
            if let existing = http2[route.key] { return existing }
            let task = Task { try await self.openHTTP2(route) }
            http2[route.key] = task
            return task
        }
        do {
            let connection = try await task.value
            if connection.channel.isActive { return connection }
        } catch {}
        http2.withLock { http2 in
            if http2[route.key] == task { http2[route.key] = nil }
        }
        return try await openHTTP2(route)
    }

    private func openHTTP2(_ route: Route) async throws -> Connection {
        let box = Mutex<NIOHTTP2Handler.StreamMultiplexer?>(nil)
        let channel = try await transport(route) { channel in
            let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                mode: .client, connectionConfiguration: HBONESettings.connection, streamConfiguration: HBONESettings.stream
            ) { $0.close() }
            try channel.pipeline.syncOperations.addHandler(HTTP2ConnectionEnd())
            box.withLock { $0 = multiplexer }
        }
        guard let multiplexer = box.withLock({ $0 }) else { throw UpstreamFailure.connectFailed("no HTTP/2 pipeline") }
        let connection = Connection(channel: channel, exchange: nil, multiplexer: multiplexer)
        channel.closeFuture.whenComplete { [weak self] _ in self?.forget(channel, key: route.key) }
        return connection
    }

    private func sendOnStream(_ request: ProxiedRequest, connection: Connection) async throws -> ProxiedResponse {
        guard let multiplexer = connection.multiplexer else { throw UpstreamFailure.reset("not an HTTP/2 connection") }
        let stream = try await multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture(withResultOf: { () throws -> Void in
                try stream.pipeline.syncOperations.addHandlers([HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .http), UpstreamExchange()])
            })
        }.get()
        let response: ProxiedResponse
        do {
            response = try await stream.eventLoop.onLoop {
                do {
                    let exchange = try stream.pipeline.syncOperations.handler(type: UpstreamExchange.self)
                    return exchange.send(request, on: stream.eventLoop)
                } catch {
                    return stream.eventLoop.makeFailedFuture(error)
                }
            }.get()
        } catch {
            stream.close(promise: nil)
            throw error
        }
        if let rest = response.rest { rest.whenProducerFinished { _ in stream.close(promise: nil) } } else { stream.close(promise: nil) }
        return response
    }

    /// A byte stream to the endpoint, `configure`d before anything is read:
    /// a marked socket on this node, or an HBONE stream to the endpoint's node.
    func transport(_ route: Route, configure: @escaping @Sendable (Channel) throws -> Void) async throws -> Channel {
        if route.node == context.node || route.agent == nil {
            let channel: Channel
            do {
                channel = try await Listener.connect(to: route.key.address, on: route.eventLoop,
                                                     timeout: context.upstreamConnectTimeout).get()
            } catch {
                throw UpstreamFailure.connectFailed("\(route.key.address): \(error)")
            }
            try await channel.eventLoop.submit {
                try configure(channel)
                try channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            }.get()
            return channel
        }
        guard let pool = context.hbonePool, let agent = route.agent, let node = route.node,
              let source = route.source, let sourceIdentity = route.sourceIdentity else {
            throw UpstreamFailure.connectFailed("no HBONE tunnel to \(route.node ?? "?")")
        }
        // The destination agent applies its workload's rules itself; nothing
        // here says the requests were checked.
        let request = HBONERequest(authority: route.key.address,
                                   forwardedFor: source.addresses.first { $0.isIPv4 == route.key.address.ip.isIPv4 },
                                   trace: nil, baggage: PeerWorkload(source, cluster: context.store.state.config.clusterName).baggage)
        do {
            return try await pool.openStream(source: sourceIdentity, node: node, address: agent, request: request) { stream in
                try configure(stream)
            }
        } catch let refused as HBONEConnectHandler.Refused {
            switch refused.status {
            case 503: throw UpstreamFailure.connectFailed("\(refused)")
            case 401, 403: throw UpstreamFailure.denied(refused.reason)
            default: throw UpstreamFailure.reset("\(refused)")
            }
        } catch {
            throw UpstreamFailure.connectFailed("HBONE to \(node): \(error)")
        }
    }
}

extension Array where Element == UpstreamPool.Connection {
    /// The newest open connection on `loop`, else the newest open one; closed
    /// ones met on the way are dropped.
    mutating func take(preferring loop: EventLoop) -> Element? {
        var index = endIndex
        while index > startIndex {
            index -= 1
            if !self[index].channel.isActive {
                remove(at: index)
            } else if self[index].channel.eventLoop === loop {
                return remove(at: index)
            }
        }
        return popLast()
    }
}
