import FerryMesh
import FerryTelemetry

extension TrafficLabels {
    /// Fills the destination labels from the mesh state, as Istio names them.
    mutating func describeDestination(_ workload: Workload, service: MeshService?, state: MeshState) {
        destinationWorkload = workload.canonicalName
        destinationNamespace = workload.namespace
        destinationApp = workload.labels["app"] ?? "unknown"
        destinationPrincipal = workload.knownIdentity(trustDomain: state.config.trustDomain)?.uri ?? "unknown"
        if let service {
            destinationService = service.hostname()
            destinationServiceName = service.name
            destinationServiceNamespace = service.namespace
        } else {
            destinationService = workload.addresses.first?.description ?? "unknown"
        }
    }
}
