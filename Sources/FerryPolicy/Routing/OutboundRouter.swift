import FerryMesh

/// Where a captured connection goes, decided from the mesh state alone.
public enum OutboundDecision: Sendable, Equatable {
    /// Not a mesh destination: connect to it as asked.
    case passthrough(IPEndpoint)
    /// A meshed workload (picked directly, or as a Service endpoint): `target` is
    /// its address and port; whether it is local or behind another node's agent
    /// is the proxy's business.
    case endpoint(Workload, target: IPEndpoint, service: MeshService?)
    /// A Service VIP with no endpoint that can take the port.
    case noHealthyEndpoint(MeshService)
}

/// Resolves original destinations: MeshService VIPs to endpoints (with the load
/// balancer's pick), workload addresses to workloads, everything else to
/// passthrough.
public struct OutboundRouter: Sendable {
    public init() {}

    public func route(_ destination: IPEndpoint, in state: MeshState, balancer: LoadBalancer) -> OutboundDecision {
        if let service = state.service(vip: destination.ip) {
            guard let port = service.port(destination.port) else { return .passthrough(destination) }
            let candidates: [(Workload, IPEndpoint)] = state.endpoints(of: service).compactMap { workload in
                guard let ip = workload.addresses.first(where: { $0.isIPv4 == destination.ip.isIPv4 }) ?? workload.addresses.first,
                      let targetPort = port.targetPort(on: workload)
                else { return nil }
                return (workload, IPEndpoint(ip: ip, port: targetPort))
            }
            guard !candidates.isEmpty else { return .noHealthyEndpoint(service) }
            let chosen = candidates[balancer.pick(count: candidates.count, key: service.key)]
            return .endpoint(chosen.0, target: chosen.1, service: service)
        }
        if let workload = state.workload(at: destination) {
            return .endpoint(workload, target: destination, service: nil)
        }
        return .passthrough(destination)
    }
}
