import CLibBPF
import FerryMesh
import FerryPolicy
import FerryTelemetry
import Logging
import NIOCore

/// One captured connection, from accept to wired: learn where it was going and
/// who sent it, decide the route, then take one of three ways out — passthrough
/// TCP, the same-node path (no TLS hop), or an HBONE stream to the destination's
/// node.
enum OutboundConnection {
    static func start(_ channel: Channel, context: ProxyContext) {
        FerrySocketOptions.origin(of: channel).whenSuccess { origin in
            guard let origin else {
                context.logger.warning("connection on the outbound port was not captured by Ferry; refusing",
                                       metadata: ["ferry.peer": "\(channel.remoteAddress.map { "\($0)" } ?? "?")"])
                refuse(channel)
                return
            }
            route(channel, origin: origin, context: context)
        }
    }

    static func route(_ channel: Channel, origin: ferry_origin, context: ProxyContext) {
        let state = context.store.state
        let source = context.enrollment.workload(cgroupID: origin.cgroup_id)
        let sourceIdentity = source.map { $0.identity(trustDomain: state.config.trustDomain) }
        var labels = TrafficLabels(reporter: .source)
        labels.describeSource(source, state: state)
        labels.sourcePrincipal = sourceIdentity?.uri ?? "unknown"

        func record(route: RouteKind, upstream: IPEndpoint, destination workload: Workload?, labels: TrafficLabels) -> ConnectionRecord {
            let record = ConnectionRecord(
                id: context.connections.makeID(), direction: .outbound, route: route,
                client: IPEndpoint(channel.remoteAddress), destination: origin.destination, upstream: upstream,
                sourceWorkload: source?.key, destinationWorkload: workload?.key, sourceIdentity: sourceIdentity?.uri,
                destinationIdentity: workload?.knownIdentity(trustDomain: state.config.trustDomain)?.uri, labels: labels
            )
            // The workload's own socket: the client leg of the pair.
            context.connections.claim(origin.socket_cookie, leg: .client, for: record)
            return record
        }
        func fail(_ labels: TrafficLabels, flags: ResponseFlags, reason: String) {
            OutboundConnection.fail(channel, labels: labels, flags: flags, reason: reason, workloadSocket: origin.socket_cookie,
                                    context: context)
        }

        // An HTTP Service port: requests, not bytes.
        if let l7 = context.l7, let source, let sourceIdentity,
           let (service, port) = L7Ports.httpServicePort(origin.destination, in: state) {
            labels.securityPolicy = .mutualTLS
            labels.destinationService = service.hostname()
            labels.destinationServiceName = service.name
            labels.destinationServiceNamespace = service.namespace
            let caller = L7Proxy.Caller(
                source: source, identity: sourceIdentity, service: service, port: port,
                record: record(route: .http, upstream: origin.destination, destination: nil, labels: labels),
                eventLoop: channel.eventLoop, http2: false
            )
            L7Downstream.start(channel, caller: caller, proxy: l7, context: context)
            return
        }

        switch context.router.route(origin.destination, in: state, balancer: context.balancer) {
        case .passthrough(let address):
            labels.destinationService = address.ip.description
            passthrough(channel, record: record(route: .passthrough, upstream: address, destination: nil, labels: labels), context: context)

        case .endpoint(let workload, let target, let service):
            labels.describeDestination(workload, service: service, state: state)
            labels.securityPolicy = .mutualTLS
            guard let source, let sourceIdentity else {
                // Enrolled cgroups always map to a workload; a stale entry does not.
                fail(labels, flags: .noRoute, reason: "source workload unknown (cgroup \(origin.cgroup_id))")
                return
            }
            if workload.node == context.node {
                local(channel, source: source, identity: sourceIdentity, target: target,
                      record: record(route: .local, upstream: target, destination: workload, labels: labels), context: context)
            } else {
                guard let nodeName = workload.node, let agent = state.nodes[nodeName]?.agentAddress else {
                    fail(labels, flags: .noRoute, reason: "no agent address for node \(workload.node ?? "(none)") of \(workload.key)")
                    return
                }
                hbone(channel, source: source, identity: sourceIdentity, node: nodeName,
                      agent: IPEndpoint(ip: agent, port: 15008), target: target,
                      record: record(route: .hbone, upstream: target, destination: workload, labels: labels), context: context)
            }

        case .noHealthyEndpoint(let service):
            labels.destinationService = service.hostname()
            fail(labels, flags: .noHealthyUpstream, reason: "service \(service.key) has no endpoint")
        }
    }

    /// Outside the mesh: connect as asked.
    static func passthrough(_ channel: Channel, record: ConnectionRecord, context: ProxyContext) {
        Listener.connect(to: record.upstream, on: channel.eventLoop, timeout: context.upstreamConnectTimeout).whenComplete { result in
            switch result {
            case .success(let upstream):
                recordCookies(record, downstream: channel, upstream: upstream, context: context)
                Splice.join(downstream: channel, upstream: upstream, record: record, context: context)
            case .failure(let error):
                fail(channel, labels: record.labels, flags: .upstreamConnectionFailure,
                     reason: "connect to \(record.upstream): \(error)", record: record, context: context)
            }
        }
    }

    /// Same node: the destination side's checks run in process, then a direct
    /// socket to the workload. Identity comes from the kernel (the enrolled cgroup).
    static func local(_ channel: Channel, source: Workload, identity: SpiffeID, target: IPEndpoint,
                      record: ConnectionRecord, context: ProxyContext) {
        let peer = InboundPeer(identity: identity, address: sourceAddress(source, toward: target, channel: channel),
                               workload: PeerWorkload(source, cluster: context.store.state.config.clusterName),
                               securityPolicy: .mutualTLS)
        InboundConnector.open(target: target, peer: peer, on: channel.eventLoop, context: context, sharingCountsWith: record)
            .whenComplete { result in
                switch result {
                case .success(let opened):
                    recordCookies(record, downstream: channel, upstream: opened.channel, context: context)
                    Splice.track(opened.record, downstream: channel, upstream: opened.channel, context: context)
                    Splice.join(downstream: channel, upstream: opened.channel, record: record, context: context)
                case .failure(let error as InboundRefusal):
                    fail(channel, labels: record.labels, flags: error.flags, reason: error.reason, record: record, context: context)
                case .failure(let error):
                    fail(channel, labels: record.labels, flags: .upstreamConnectionFailure, reason: "\(error)", record: record, context: context)
                }
            }
    }

    /// Another node: an HBONE stream through the pooled mTLS connection to that
    /// node's agent.
    static func hbone(_ channel: Channel, source: Workload, identity: SpiffeID, node: String, agent: IPEndpoint,
                      target: IPEndpoint, record: ConnectionRecord, context: ProxyContext) {
        guard let pool = context.hbonePool else {
            fail(channel, labels: record.labels, flags: .upstreamConnectionFailure,
                 reason: "no HBONE tunnel configured (ferryd runs without a CA)", record: record, context: context)
            return
        }
        let (onClient, onStream) = Splice.forwarders(for: record)
        do {
            try channel.pipeline.syncOperations.addHandler(onClient)
        } catch {
            channel.close(promise: nil)
            return
        }
        // Bytes already read go to the forwarder, which keeps them until the stream joins.
        InboundHold.release(channel)
        let request = HBONERequest(
            authority: target, forwardedFor: sourceAddress(source, toward: target, channel: channel),
            trace: .fresh(), baggage: PeerWorkload(source, cluster: context.store.state.config.clusterName).baggage
        )
        let onStreamBox = UnsafeTransfer(onStream)
        let loop = channel.eventLoop
        Task {
            do {
                let stream = try await pool.openStream(source: identity, node: node, address: agent, request: request) { stream in
                    try stream.pipeline.syncOperations.addHandler(onStreamBox.value)
                }
                // The socket that crosses the network is the pooled TLS connection.
                if let connection = stream.parent {
                    FerrySocketOptions.cookie(of: connection).whenSuccess { record.upstreamCookie.store($0, ordering: .relaxed) }
                }
                FerrySocketOptions.cookie(of: channel).whenSuccess { record.downstreamCookie.store($0, ordering: .relaxed) }
                loop.execute {
                    Splice.track(record, downstream: channel, upstream: stream, context: context)
                    Splice.startReading(channel)
                }
            } catch {
                let flags: ResponseFlags = (error as? HBONEConnectHandler.Refused)?.status == 403 ? .deny : .upstreamConnectionFailure
                loop.execute {
                    fail(channel, labels: record.labels, flags: flags, reason: "HBONE to \(node) (\(agent)) for \(target): \(error)",
                         record: record, context: context)
                }
            }
        }
    }

    /// The source's address as policy (ipBlocks) and the destination see it: the
    /// workload's own address. The captured socket's peer is loopback (the
    /// connect was redirected to 127.0.0.1:15001), which says nothing.
    static func sourceAddress(_ source: Workload, toward target: IPEndpoint, channel: Channel) -> IPAddress? {
        source.addresses.first { $0.isIPv4 == target.ip.isIPv4 } ?? source.addresses.first ?? IPEndpoint(channel.remoteAddress)?.ip
    }

    /// The cookies of ferryd's two sockets; the upstream one (to the
    /// destination, on this node or outside the mesh) is the pair's server leg.
    static func recordCookies(_ record: ConnectionRecord, downstream: Channel, upstream: Channel, context: ProxyContext) {
        FerrySocketOptions.cookie(of: downstream).whenSuccess { record.downstreamCookie.store($0, ordering: .relaxed) }
        FerrySocketOptions.cookie(of: upstream).whenSuccess { cookie in
            record.upstreamCookie.store(cookie, ordering: .relaxed)
            context.connections.claim(cookie, leg: .server, for: record)
        }
    }

    /// Counts and logs a connection that could not be carried, and resets the
    /// client. `workloadSocket`: the client's socket when there is no record.
    static func fail(_ channel: Channel, labels: TrafficLabels, flags: ResponseFlags, reason: String,
                     record: ConnectionRecord? = nil, workloadSocket: UInt64 = 0, context: ProxyContext) {
        var failed = labels
        failed.responseFlags = flags
        context.connections.failed(failed)
        if let record {
            context.connections.releaseSockets(of: record)
        } else {
            context.connections.claim(workloadSocket, leg: .client, labels: failed)
        }
        context.logger.warning("outbound connection failed", metadata: [
            "ferry.reason": "\(reason)", "ferry.flags": "\(flags.rawValue)",
            "ferry.source": "\(labels.sourcePrincipal)", "ferry.destination": "\(labels.destinationService)",
        ])
        if let record { AccessLogEntry.connectionClosed(record, flags: flags, log: context.accessLog) }
        refuse(channel)
    }

    /// Closes with a reset, so the client learns at once.
    static func refuse(_ channel: Channel) {
        FerrySocketOptions.resetOnClose(channel).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Moves a non-Sendable value across a task boundary where the code guarantees
/// it is used on one thread at a time (a handler handed to another pipeline).
struct UnsafeTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
