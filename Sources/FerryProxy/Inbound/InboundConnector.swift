import FerryMesh
import FerryPolicy
import FerryTelemetry
import Logging
import NIOCore

/// Who is connecting, as the destination side knows it.
public struct InboundPeer: Sendable {
    /// The verified identity (mTLS), or the kernel-attested one on the local path;
    /// nil for plaintext.
    public var identity: SpiffeID?
    /// The original client address (Forwarded, or the socket peer).
    public var address: IPAddress?
    /// The source workload, when known (baggage or the local enrollment).
    public var workload: PeerWorkload?
    public var securityPolicy: SecurityPolicy

    public init(identity: SpiffeID?, address: IPAddress?, workload: PeerWorkload? = nil, securityPolicy: SecurityPolicy) {
        self.identity = identity
        self.address = address
        self.workload = workload
        self.securityPolicy = securityPolicy
    }
}

/// Why an inbound connection was not opened, and how to say so.
public struct InboundRefusal: Error, Sendable, CustomStringConvertible {
    /// The HTTP status an HBONE peer gets.
    public var status: Int
    public var flags: ResponseFlags
    public var reason: String
    public var description: String { reason }
}

/// The destination side of every mesh connection, whichever way it arrived
/// (HBONE, the same-node path, plaintext capture): the target must be a workload
/// on this node, policy must allow it, then ferryd connects to it.
enum InboundConnector {
    struct Opened {
        let channel: Channel
        let record: ConnectionRecord
    }

    /// A connection the destination's checks let in, not yet connected.
    struct Admitted {
        let workload: Workload
        let record: ConnectionRecord
        let labels: TrafficLabels
    }

    static func open(target: IPEndpoint, peer: InboundPeer, on eventLoop: EventLoop, context: ProxyContext,
                     sharingCountsWith outbound: ConnectionRecord? = nil, httpJudgedUpstream: Bool = false) -> EventLoopFuture<Opened> {
        let admitted: Admitted
        do {
            admitted = try admit(target: target, peer: peer, context: context, sharingCountsWith: outbound,
                                 httpJudgedUpstream: httpJudgedUpstream)
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return Listener.connect(to: target, on: eventLoop, timeout: context.upstreamConnectTimeout)
            .flatMapErrorThrowing { [labels = admitted.labels] error in
                var failed = labels
                failed.responseFlags = .upstreamConnectionFailure
                context.connections.failed(failed)
                throw InboundRefusal(status: 503, flags: .upstreamConnectionFailure, reason: "connect to \(target): \(error)")
            }
            .map { Opened(channel: $0, record: admitted.record) }
    }

    /// The checks alone: the target is a workload of this node and policy lets
    /// the peer in (with `httpJudgedUpstream`, leaving what only HTTP decides
    /// to a check per request). Throws an `InboundRefusal`, counted and logged.
    static func admit(target: IPEndpoint, peer: InboundPeer, context: ProxyContext,
                      sharingCountsWith outbound: ConnectionRecord? = nil, httpJudgedUpstream: Bool = false) throws -> Admitted {
        let state = context.store.state
        var labels = TrafficLabels(reporter: .destination)
        labels.securityPolicy = peer.securityPolicy
        labels.sourcePrincipal = peer.identity?.uri ?? "unknown"
        labels.describeSource(peer.workload)
        labels.sourceNamespace = peer.workload?.namespace ?? peer.identity?.namespace ?? "unknown"

        guard let workload = state.workload(at: target), workload.node == context.node else {
            labels.responseFlags = .noRoute
            context.connections.failed(labels)
            throw InboundRefusal(status: 400, flags: .noRoute, reason: "\(target) is not a workload on node \(context.node)")
        }
        labels.describeDestination(workload, service: nil, state: state)

        var request = InboundAuthorization.request(destination: workload, target: target, peer: peer)
        request.httpJudgedUpstream = httpJudgedUpstream
        let decision = InboundAuthorization.decide(request, state: state, context: context)
        guard decision.allowed else {
            labels.responseFlags = .deny
            context.connections.failed(labels)
            InboundAuthorization.logDenial(decision, request: request, peer: peer, labels: labels, context: context)
            throw InboundRefusal(status: 403, flags: .deny, reason: decision.reason)
        }

        let record = ConnectionRecord(
            id: context.connections.makeID(), direction: .inbound, route: .inbound,
            client: peer.address.map { IPEndpoint(ip: $0, port: 0) }, destination: target, upstream: target,
            sourceWorkload: peer.workload?.key,
            destinationWorkload: workload.key, sourceIdentity: peer.identity?.uri,
            destinationIdentity: workload.identity(trustDomain: state.config.trustDomain).uri, labels: labels,
            authorization: request, sharingCountsWith: outbound
        )
        return Admitted(workload: workload, record: record, labels: labels)
    }
}
