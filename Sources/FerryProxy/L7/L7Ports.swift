import FerryMesh

/// Which ports speak HTTP, as Services declare them (appProtocol or port name).
enum L7Ports {
    /// The Service port a captured destination names, when it speaks HTTP.
    static func httpServicePort(_ destination: IPEndpoint, in state: MeshState) -> (MeshService, ServicePort)? {
        guard let service = state.service(vip: destination.ip), let port = service.port(destination.port), port.isHTTP else {
            return nil
        }
        return (service, port)
    }

    /// Whether a workload's port is the target of an HTTP Service port.
    static func isHTTP(_ workload: Workload, port: Int, in state: MeshState) -> Bool {
        state.services(selecting: workload).contains { service in
            service.ports.contains { $0.isHTTP && $0.targetPort(on: workload) == port }
        }
    }
}
