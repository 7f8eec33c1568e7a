import CLibBPF
import FerryMesh
import FerryPolicy
import FerryTelemetry
import Logging
import NIOCore

/// One captured connection, from accept to wired: learn where it was going and
/// who sent it, decide the route, connect upstream, splice.
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
        let destination = origin.destination
        var labels = TrafficLabels(reporter: .source)
        labels.sourceWorkload = source?.canonicalName ?? "unknown"
        labels.sourceNamespace = source?.namespace ?? "unknown"
        labels.sourceApp = source?.labels["app"] ?? "unknown"
        labels.sourcePrincipal = source.map { $0.identity(trustDomain: state.config.trustDomain).uri } ?? "unknown"

        let decision = context.router.route(destination, in: state, balancer: context.balancer)
        let upstream: IPEndpoint
        var destinationWorkload: Workload?
        switch decision {
        case .passthrough(let address):
            upstream = address
            labels.destinationService = address.ip.description
        case .endpoint(let workload, let target, let service):
            upstream = target
            destinationWorkload = workload
            labels.describeDestination(workload, service: service, state: state)
        case .noHealthyEndpoint(let service):
            labels.destinationService = service.hostname()
            labels.responseFlags = .noHealthyUpstream
            context.connections.failed(labels)
            context.logger.warning("no endpoint for service", metadata: ["ferry.service": "\(service.key)"])
            refuse(channel)
            return
        }

        let record = ConnectionRecord(
            id: context.connections.makeID(), direction: .outbound, route: .passthrough,
            client: IPEndpoint(channel.remoteAddress), destination: destination, upstream: upstream,
            sourceWorkload: source?.key, destinationWorkload: destinationWorkload?.key,
            sourceIdentity: source.map { $0.identity(trustDomain: state.config.trustDomain).uri },
            destinationIdentity: nil, labels: labels
        )
        Listener.connect(to: upstream, on: channel.eventLoop, timeout: context.upstreamConnectTimeout).whenComplete { result in
            switch result {
            case .success(let upstreamChannel):
                recordCookies(record, downstream: channel, upstream: upstreamChannel)
                Splice.join(downstream: channel, upstream: upstreamChannel, record: record, context: context)
            case .failure(let error):
                var failed = record.labels
                failed.responseFlags = .upstreamConnectionFailure
                context.connections.failed(failed)
                context.logger.warning("upstream connect failed", metadata: [
                    "ferry.upstream": "\(upstream)", "ferry.error": "\(error)", "ferry.flags": "UF",
                ])
                AccessLogEntry.connectionClosed(record, flags: .upstreamConnectionFailure, log: context.accessLog)
                refuse(channel)
            }
        }
    }

    static func recordCookies(_ record: ConnectionRecord, downstream: Channel, upstream: Channel) {
        FerrySocketOptions.cookie(of: downstream).whenSuccess { record.downstreamCookie.store($0, ordering: .relaxed) }
        FerrySocketOptions.cookie(of: upstream).whenSuccess { record.upstreamCookie.store($0, ordering: .relaxed) }
    }

    /// Closes with a reset, so the client learns at once.
    static func refuse(_ channel: Channel) {
        FerrySocketOptions.resetOnClose(channel).whenComplete { _ in channel.close(promise: nil) }
    }
}

extension TrafficLabels {
    mutating func describeDestination(_ workload: Workload, service: MeshService?, state: MeshState) {
        destinationWorkload = workload.canonicalName
        destinationNamespace = workload.namespace
        destinationApp = workload.labels["app"] ?? "unknown"
        destinationPrincipal = workload.identity(trustDomain: state.config.trustDomain).uri
        if let service {
            destinationService = service.hostname()
            destinationServiceName = service.name
            destinationServiceNamespace = service.namespace
        } else {
            destinationService = workload.addresses.first?.description ?? "unknown"
        }
    }
}
