import FerryMesh
import FerryTelemetry

extension TrafficLabels {
    /// Fills the destination labels from the mesh state, as Istio names them.
    mutating func describeDestination(_ workload: Workload, service: MeshService?, state: MeshState) {
        destinationWorkload = workload.canonicalName
        destinationNamespace = workload.namespace
        destinationApp = workload.labels["app"] ?? "unknown"
        destinationCanonicalService = workload.canonicalService
        destinationCanonicalRevision = workload.canonicalRevision
        destinationVersion = workload.canonicalRevision
        destinationCluster = state.config.clusterName
        destinationPrincipal = workload.knownIdentity(trustDomain: state.config.trustDomain)?.uri ?? "unknown"
        if let service {
            destinationService = service.hostname()
            destinationServiceName = service.name
            destinationServiceNamespace = service.namespace
        } else {
            destinationService = workload.addresses.first?.description ?? "unknown"
        }
    }

    /// Fills the source labels from a workload of this node.
    mutating func describeSource(_ workload: Workload?, state: MeshState) {
        sourceWorkload = workload?.canonicalName ?? "unknown"
        sourceNamespace = workload?.namespace ?? "unknown"
        sourceApp = workload?.labels["app"] ?? "unknown"
        sourceCanonicalService = workload?.canonicalService ?? "unknown"
        sourceCanonicalRevision = workload?.canonicalRevision ?? "latest"
        sourceVersion = workload?.canonicalRevision ?? "unknown"
        sourceCluster = workload == nil ? "unknown" : state.config.clusterName
    }

    /// Fills the source labels from what the peer said about itself.
    mutating func describeSource(_ peer: PeerWorkload?) {
        sourceWorkload = peer?.metricName ?? "unknown"
        sourceCanonicalService = peer?.canonicalService ?? "unknown"
        sourceCanonicalRevision = peer?.canonicalRevision ?? "latest"
        sourceVersion = peer?.canonicalRevision ?? "unknown"
        sourceCluster = peer?.cluster ?? "unknown"
    }
}

extension WorkloadPair {
    /// A pair whose destination is not known: all a captured socket's close
    /// record still names when no connection claimed the socket.
    init(source workload: Workload) {
        self.init(sourceWorkload: workload.canonicalName, sourceNamespace: workload.namespace,
                  destinationWorkload: "unknown", destinationNamespace: "unknown")
    }
}
