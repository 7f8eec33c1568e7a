import FerryMesh
import FerryPolicy
import FerryTelemetry
import NIOCore
import NIOHTTP1

/// The destination agent's own check of each HTTP request on an inbound HBONE
/// stream, for a workload port whose AuthorizationPolicy has rules only a
/// request can decide (paths, methods, hosts, headers). Whatever the sending
/// agent says it checked, the destination applies its rules itself, with
/// what it verified: the peer certificate's identity and a source address
/// it could vouch for (`ClaimedSource`). An allowed request goes on to the
/// workload over this node's keep-alive connections (the L7 proxy's
/// `UpstreamPool`); a denied one is answered 403 with `ferry-reason`.
struct InboundRequestGate: HTTPRequestHandling {
    let target: IPEndpoint
    let peer: InboundPeer
    /// The stream's labels, for the access-log line of a denial.
    let labels: TrafficLabels
    let context: ProxyContext
    let upstreams: UpstreamPool
    let eventLoop: EventLoop

    func handle(_ request: ProxiedRequest, http2: Bool) async -> ProxiedResponse {
        if let denial = check(request) { return denial }
        var upstream = request
        HopByHop.strip(&upstream.head.headers)
        do {
            return try await upstreams.exchange(upstream, route: route(http2: http2)) { { } }
        } catch {
            return .local(.serviceUnavailable, reason: "\(target): \(error)", version: request.head.version)
        }
    }

    func openUpgrade(_ request: ProxiedRequest) async throws -> Channel {
        if let denial = check(request) {
            throw UpstreamFailure.connectFailed(denial.head.headers.first(name: "ferry-reason") ?? "denied")
        }
        // Hold the workload's answer until the splice is in place.
        let channel = try await upstreams.transport(route(http2: false)) { try $0.pipeline.syncOperations.addHandler(InboundHold()) }
        try await Upgrade.send(request.head, on: channel)
        return channel
    }

    private func route(http2: Bool) -> UpstreamPool.Route {
        UpstreamPool.Route(key: .init(address: target, http2: http2), node: context.node, agent: nil,
                           source: nil, sourceIdentity: nil, eventLoop: eventLoop)
    }

    /// nil when the destination's policy allows the request; else its 403.
    func check(_ request: ProxiedRequest) -> ProxiedResponse? {
        let state = context.store.state
        guard let workload = state.workload(at: target), workload.node == context.node else {
            return .local(.serviceUnavailable, reason: "\(target) is no longer a workload on node \(context.node)",
                          version: request.head.version)
        }
        let info = L7Proxy.requestInfo(request, defaultAuthority: target.description, sourceIP: peer.address)
        let authorization = AuthorizationRequest(
            destination: workload, destinationIP: target.ip, destinationPort: target.port, source: peer.identity,
            sourceIP: peer.address,
            http: HTTPRequestAttributes(host: info.host, method: info.method, path: String(info.pathWithoutQuery), headers: info.headers)
        )
        let decision = InboundAuthorization.decide(authorization, state: state, context: context)
        guard !decision.allowed else { return nil }
        InboundAuthorization.logDenial(decision, request: authorization, peer: peer, labels: labels, context: context)
        return .local(.forbidden, reason: decision.reason, version: request.head.version)
    }
}

/// Counts a stream's bytes into its connection record when no `ByteForwarder`
/// does (requests parsed on the way): read from the peer, and written to it.
final class StreamByteCounter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let fromPeer: ByteCounts
    private let toPeer: ByteCounts

    init(record: ConnectionRecord) {
        fromPeer = record.sent
        toPeer = record.received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        fromPeer.inbound.wrappingAdd(UInt64(unwrapInboundIn(data).readableBytes), ordering: .relaxed)
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        toPeer.inbound.wrappingAdd(UInt64(unwrapOutboundIn(data).readableBytes), ordering: .relaxed)
        context.write(data, promise: promise)
    }
}
