import FerryMesh

/// One workload address a backend's requests can go to.
public struct UpstreamEndpoint: Sendable, Hashable {
    public var workload: Workload
    /// The workload's address and the Service port's target port on it.
    public var address: IPEndpoint

    public init(workload: Workload, address: IPEndpoint) {
        self.workload = workload
        self.address = address
    }

    /// Identifies the endpoint in per-endpoint state (outlier detection,
    /// in-flight counts) and on the hash ring: "ip:port".
    public var key: String { address.description }
}

extension HTTPRouteTable {
    /// The backend's endpoints: its Service's selected workloads with the
    /// target port resolved (workloads without the named port are left out).
    /// `preferIPv4` picks the address family when a workload has both.
    public func endpoints(of backend: RouteBackend, preferIPv4: Bool = true) -> [UpstreamEndpoint] {
        (endpointsByService[backend.service.key] ?? []).compactMap { workload in
            guard let ip = workload.addresses.first(where: { $0.isIPv4 == preferIPv4 }) ?? workload.addresses.first,
                  let port = backend.port.targetPort(on: workload) else { return nil }
            return UpstreamEndpoint(workload: workload, address: IPEndpoint(ip: ip, port: port))
        }
    }
}
