/// Turns EndpointSlice endpoints into workloads, for `MeshState`.
///
/// An endpoint whose pod is known (a Pod resource, meshed or not) stays that pod:
/// the slice only adds it to its Service. Any other ready endpoint becomes a
/// `.endpointSlice` workload named after its pod (`targetRef`), meshed when its
/// namespace carries `ferry.dev/mesh=enabled` — a remote pod's own labels are not
/// in the slice, so a pod-level opt-in on another node is not visible here.
/// The same pod in several slices (dual-stack, several Services) is one workload
/// with the addresses and ports of all of them.
struct EndpointSliceWorkloads {
    /// Derived workloads (meshed or not; `MeshState` filters), by key.
    var workloads: [String: Workload] = [:]
    /// Service key → keys of the workloads its slices list.
    var endpointKeys: [String: [String]] = [:]

    init(slices: [EndpointSlice], services: [MeshService], knownWorkloadKeys: Set<String>,
         namespaces: [String: MeshNamespace]) {
        let servicesByKey = Dictionary(services.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for slice in slices {
            let service = slice.serviceName.flatMap { servicesByKey["\(slice.namespace)/\($0)"] }
            let namedPorts = Self.namedPorts(of: slice, service: service)
            let meshed = namespaces[slice.namespace]?.labels[Workload.meshLabel] == "enabled"
            for endpoint in slice.endpoints where endpoint.ready && !endpoint.addresses.isEmpty {
                let name = Self.workloadName(endpoint, in: slice)
                let key = "\(slice.namespace)/\(name)"
                if let service { endpointKeys[service.key, default: []].append(key) }
                if knownWorkloadKeys.contains(key) { continue }
                var workload = workloads[key] ?? Workload(
                    source: .endpointSlice, name: name, namespace: slice.namespace, addresses: [],
                    serviceAccount: "", node: endpoint.nodeName, uid: endpoint.targetRef?.uid, meshEnabled: meshed
                )
                for address in endpoint.addresses where !workload.addresses.contains(address) {
                    workload.addresses.append(address)
                }
                workload.ports.merge(namedPorts) { current, _ in current }
                workloads[key] = workload
            }
        }
    }

    /// The pod's name when the endpoint points at a pod of the slice's namespace;
    /// otherwise the slice and address, which is unique and says where it came from.
    static func workloadName(_ endpoint: EndpointSlice.Endpoint, in slice: EndpointSlice) -> String {
        if let ref = endpoint.targetRef, ref.kind == "Pod", (ref.namespace ?? slice.namespace) == slice.namespace {
            return ref.name
        }
        return "\(slice.name)@\(endpoint.addresses[0])"
    }

    /// A slice port carries the resolved number of the Service port of the same
    /// name; where that Service port targets a container port by name, this is
    /// the only way to learn the number for a pod Ferry cannot see.
    static func namedPorts(of slice: EndpointSlice, service: MeshService?) -> [String: Int] {
        guard let service else { return [:] }
        var ports: [String: Int] = [:]
        for slicePort in slice.ports {
            guard let number = slicePort.port,
                  let servicePort = service.ports.first(where: { ($0.name ?? "") == slicePort.name }),
                  case .name(let target) = servicePort.targetPort else { continue }
            ports[target] = number
        }
        return ports
    }
}
