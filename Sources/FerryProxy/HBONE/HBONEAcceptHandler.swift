import FerryMesh
import FerryTelemetry
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2

/// The server end of one HBONE stream: validate the CONNECT, check the peer and
/// the destination, connect to the workload, answer 200 and splice. Every
/// refusal is an HTTP status with a `ferry-reason` header, never a crash.
final class HBONEAcceptHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let context: ProxyContext
    /// The verified identity of the TLS peer (nil on a plaintext test server).
    private let peerIdentity: SpiffeID?
    private let requireIdentity: Bool
    private let peerAddress: IPAddress?
    private var state: State = .awaitingRequest
    private var handoff = FrameHandoff()

    enum State { case awaitingRequest, connecting, done }

    init(context: ProxyContext, peerIdentity: SpiffeID?, requireIdentity: Bool, peerAddress: IPAddress?) {
        self.context = context
        self.peerIdentity = peerIdentity
        self.requireIdentity = requireIdentity
        self.peerAddress = peerAddress
    }

    func channelRead(context channelContext: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        guard state == .awaitingRequest else {
            if case .rstStream = payload { channelContext.close(promise: nil) }
            handoff.hold(payload)
            return
        }
        guard case .headers(let headers) = payload else {
            respond(channelContext, status: 400, reason: "HBONE stream must start with CONNECT headers")
            return
        }
        switch HBONERequest.parse(headers.headers) {
        case .failure(let problem):
            context.logger.info("HBONE request refused", metadata: ["ferry.reason": "\(problem)"])
            respond(channelContext, status: 400, reason: problem.description)
        case .success where requireIdentity && peerIdentity == nil:
            respond(channelContext, status: 403, reason: "the peer's certificate is not a workload identity")
        case .success(let request):
            state = .connecting
            accept(request, channelContext)
        }
    }

    private func accept(_ request: HBONERequest, _ channelContext: ChannelHandlerContext) {
        let state = context.store.state
        let source = ClaimedSource.resolve(claimed: request.forwardedFor, peerAddress: peerAddress,
                                           identity: peerIdentity, state: state)
        if case .rejected(let claimed, let used, let why) = source {
            context.policyMetrics.claimRejected("forwarded")
            context.logger.info("HBONE peer's forwarded address not used", metadata: [
                "ferry.claimed": "\(claimed)", "ferry.source": "\(used.map { "\($0)" } ?? "-")", "ferry.reason": "\(why)",
                "ferry.peer_identity": "\(peerIdentity?.uri ?? "-")",
            ])
        }
        let peer = InboundPeer(
            identity: peerIdentity, address: source.address,
            workload: PeerWorkload(baggage: request.baggage), securityPolicy: .mutualTLS
        )
        // A port whose rules need the requests is checked request by request
        // here, whatever the peer says it checked; any other stays bytes.
        if let gate = requestGate(for: request.authority, peer: peer, state: state, on: channelContext.eventLoop) {
            do {
                let admitted = try InboundConnector.admit(target: request.authority, peer: peer, context: context,
                                                          httpJudgedUpstream: true)
                serveRequests(admitted, gate: gate, channelContext)
            } catch let error as InboundRefusal {
                respond(channelContext, status: error.status, reason: error.reason)
            } catch {
                respond(channelContext, status: 503, reason: "\(error)")
            }
            return
        }
        let stream = channelContext.channel
        let loopBound = NIOLoopBound((self, channelContext), eventLoop: stream.eventLoop)
        InboundConnector.open(target: request.authority, peer: peer, on: stream.eventLoop, context: context)
            .whenComplete { result in
                let (this, channelContext) = loopBound.value
                switch result {
                case .success(let opened):
                    this.wire(opened, channelContext)
                case .failure(let error as InboundRefusal):
                    this.respond(channelContext, status: error.status, reason: error.reason)
                case .failure(let error):
                    this.respond(channelContext, status: 503, reason: "\(error)")
                }
            }
    }

    /// The gate for a target whose workload's policy decides per HTTP request
    /// (`Authorizer.needsRequestAttributes`) on an HTTP port; nil otherwise.
    private func requestGate(for target: IPEndpoint, peer: InboundPeer, state: MeshState,
                             on eventLoop: EventLoop) -> InboundRequestGate? {
        guard let upstreams = context.l7?.upstreams, let workload = state.workload(at: target), workload.node == context.node,
              L7Ports.isHTTP(workload, port: target.port, in: state),
              context.policies.policies(for: state).authorizer.needsRequestAttributes(destination: workload, port: target.port)
        else { return nil }
        var labels = TrafficLabels(reporter: .destination)
        labels.describeDestination(workload, service: nil, state: state)
        return InboundRequestGate(target: target, peer: peer, labels: labels, context: context, upstreams: upstreams,
                                  eventLoop: eventLoop)
    }

    /// Answers the CONNECT, then parses the stream's requests through the gate.
    private func serveRequests(_ admitted: InboundConnector.Admitted, gate: InboundRequestGate,
                               _ channelContext: ChannelHandlerContext) {
        let stream = channelContext.channel
        do {
            try stream.pipeline.syncOperations.handler(type: HTTP2DataBridge.self).endsStreamOnClose = true
            try stream.pipeline.syncOperations.addHandler(StreamByteCounter(record: admitted.record))
        } catch {
            respond(channelContext, status: 503, reason: "cannot wire the stream: \(error)")
            return
        }
        state = .done
        admitted.record.onClose { stream.close(promise: nil) }
        channelContext.writeAndFlush(wrapOutboundOut(.headers(.init(headers: [":status": "200"]))), promise: nil)
        L7Downstream.start(stream, record: admitted.record, requests: gate, context: context)
        stream.closeFuture.whenComplete { [context] _ in
            AccessLogEntry.connectionClosed(admitted.record, flags: .none, log: context.accessLog)
        }
        handoff.release(context: channelContext, removing: self)
    }

    private func wire(_ opened: InboundConnector.Opened, _ channelContext: ChannelHandlerContext) {
        let stream = channelContext.channel
        guard stream.isActive else {
            opened.channel.close(promise: nil)
            return
        }
        // The peer is the source: its side counts bytes sent.
        let (onPeer, onWorkload) = Splice.forwarders(for: opened.record)
        do {
            try stream.pipeline.syncOperations.addHandler(onPeer)
            try opened.channel.pipeline.syncOperations.addHandler(onWorkload)
        } catch {
            opened.channel.close(promise: nil)
            respond(channelContext, status: 503, reason: "cannot wire the tunnel: \(error)")
            return
        }
        state = .done
        channelContext.writeAndFlush(wrapOutboundOut(.headers(.init(headers: [":status": "200"]))), promise: nil)
        Splice.track(opened.record, downstream: stream, upstream: opened.channel, context: context)
        // The socket to the workload is the pair's server leg; the stream's own
        // socket is the agent-to-agent one, which the node pair owns.
        context.connections.claim(socketOf: opened.channel, leg: .server, for: opened.record)
        handoff.release(context: channelContext, removing: self)
        Splice.startReading(opened.channel)
        Splice.startReading(stream)
    }

    private func respond(_ channelContext: ChannelHandlerContext, status: Int, reason: String) {
        state = .done
        let headers: HPACKHeaders = [":status": "\(status)", "ferry-reason": reason]
        channelContext.writeAndFlush(wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
        channelContext.close(promise: nil)
    }

    func errorCaught(context channelContext: ChannelHandlerContext, error: Error) {
        context.logger.debug("HBONE stream error: \(error)")
        channelContext.close(promise: nil)
    }
}
