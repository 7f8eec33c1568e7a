/// One immutable snapshot of the mesh configuration. The data path reads the
/// latest snapshot; nothing mutates one after it is built. A class, so that
/// handing a snapshot around (per connection, per request) is one reference
/// count rather than one per indexed collection.
public final class MeshState: Sendable {
    public let generation: Int
    public let config: MeshConfig
    public let nodes: [String: MeshNode]
    public let namespaces: [String: MeshNamespace]
    /// Meshed workloads, sorted by key: Pods, WorkloadEntries, and EndpointSlice
    /// endpoints whose pod is not known here (see `EndpointSliceWorkloads`).
    public let workloads: [Workload]
    public let services: [MeshService]
    /// Sorted by key.
    public let endpointSlices: [EndpointSlice]
    /// Sorted by key. FerryPolicy indexes them (`Authorizer`), once per snapshot.
    public let authorizationPolicies: [AuthorizationPolicy]
    /// Sorted by key. FerryPolicy resolves them (`PeerAuthenticationResolver`).
    public let peerAuthentications: [PeerAuthentication]
    /// Sorted by key. FerryPolicy matches requests against them (`HTTPRouteTable`).
    public let httpRoutes: [HTTPRoute]
    /// Sorted by key.
    public let grpcRoutes: [GRPCRoute]
    /// Route kinds Ferry does not implement, kept for route status; sorted by key.
    public let unsupportedRoutes: [UnsupportedRoute]
    /// Sorted by key.
    public let destinationRules: [DestinationRule]
    /// The fault injection of VirtualServices, sorted by key.
    public let virtualServices: [VirtualServiceFaults]
    /// Sorted by key.
    public let rateLimits: [RateLimit]
    /// Everything the snapshot was built from, with its origin (for config_dump).
    public let resources: [LocatedResource]

    private let workloadIndexByKey: [String: Int]
    private let workloadIndexesByIP: [IPAddress: [Int]]
    private let serviceIndexByVIP: [IPAddress: Int]
    private let serviceIndexByKey: [String: Int]
    private let endpointIndexes: [[Int]]
    /// By workload index: the Services whose endpoints include it. The L7 path
    /// asks this per request (rate limits), so it must not scan the cluster.
    private let serviceIndexesByWorkload: [[Int]]
    let trafficIndex: TrafficIndex

    public static let empty = try! MeshState(resources: [], generation: 0)

    /// Validates the set as a whole (one MeshConfig, no duplicates) and indexes it.
    public init(resources: [LocatedResource], generation: Int) throws {
        var seen: [ResourceKey: LocatedResource] = [:]
        var config: MeshConfig?
        var nodes: [String: MeshNode] = [:]
        var namespaces: [String: MeshNamespace] = [:]
        var workloads: [Workload] = []
        var services: [MeshService] = []
        var endpointSlices: [EndpointSlice] = []
        var authorizationPolicies: [AuthorizationPolicy] = []
        var peerAuthentications: [PeerAuthentication] = []
        var httpRoutes: [HTTPRoute] = []
        var grpcRoutes: [GRPCRoute] = []
        var unsupportedRoutes: [UnsupportedRoute] = []
        var destinationRules: [DestinationRule] = []
        var virtualServices: [VirtualServiceFaults] = []
        var rateLimits: [RateLimit] = []
        for located in resources {
            let key = located.resource.key
            if let first = seen[key] {
                throw ResourceError(file: located.file, line: located.line,
                                    message: "\(key) is defined twice (first at \(first.file):\(first.line))")
            }
            seen[key] = located
            switch located.resource {
            case .meshConfig(_, let value):
                if config != nil {
                    throw ResourceError(file: located.file, line: located.line, message: "more than one MeshConfig")
                }
                config = value
            case .node(let node): nodes[node.name] = node
            case .namespace(let ns): namespaces[ns.name] = ns
            case .workload(let workload): workloads.append(workload)
            case .service(let service): services.append(service)
            case .endpointSlice(let slice): endpointSlices.append(slice)
            case .authorizationPolicy(let policy): authorizationPolicies.append(policy)
            case .peerAuthentication(let policy): peerAuthentications.append(policy)
            case .httpRoute(let route): httpRoutes.append(route)
            case .grpcRoute(let route): grpcRoutes.append(route)
            case .unsupportedRoute(let route): unsupportedRoutes.append(route)
            case .destinationRule(let rule): destinationRules.append(rule)
            case .virtualService(let faults): virtualServices.append(faults)
            case .rateLimit(let limit): rateLimits.append(limit)
            }
        }
        endpointSlices.sort { $0.key < $1.key }
        let fromSlices = EndpointSliceWorkloads(
            slices: endpointSlices, services: services, knownWorkloadKeys: Set(workloads.map(\.key)), namespaces: namespaces
        )
        workloads += fromSlices.workloads.values
        // Pods opt in through their own label or their namespace's.
        workloads = workloads.map { workload in
            var workload = workload
            if workload.source == .pod, namespaces[workload.namespace]?.labels[Workload.meshLabel] == "enabled" {
                workload.meshEnabled = true
            }
            return workload
        }
        .filter(\.meshEnabled)
        .sorted { $0.key < $1.key }
        services.sort { $0.key < $1.key }
        authorizationPolicies.sort { $0.key < $1.key }
        peerAuthentications.sort { $0.key < $1.key }
        httpRoutes.sort { $0.key < $1.key }
        grpcRoutes.sort { $0.key < $1.key }
        unsupportedRoutes.sort { ($0.kind, $0.key) < ($1.kind, $1.key) }
        destinationRules.sort { $0.key < $1.key }
        virtualServices.sort { $0.key < $1.key }
        rateLimits.sort { $0.key < $1.key }

        self.generation = generation
        self.config = config ?? MeshConfig()
        self.nodes = nodes
        self.namespaces = namespaces
        self.workloads = workloads
        self.services = services
        self.endpointSlices = endpointSlices
        self.authorizationPolicies = authorizationPolicies
        self.peerAuthentications = peerAuthentications
        self.httpRoutes = httpRoutes
        self.grpcRoutes = grpcRoutes
        self.unsupportedRoutes = unsupportedRoutes
        self.destinationRules = destinationRules
        self.virtualServices = virtualServices
        self.rateLimits = rateLimits
        trafficIndex = try TrafficIndex(httpRoutes: httpRoutes, grpcRoutes: grpcRoutes, destinationRules: destinationRules,
                                        virtualServices: virtualServices, rateLimits: rateLimits, located: seen)
        self.resources = resources

        var byKey: [String: Int] = [:]
        var byIP: [IPAddress: [Int]] = [:]
        for (index, workload) in workloads.enumerated() {
            byKey[workload.key] = index
            for ip in workload.addresses { byIP[ip, default: []].append(index) }
        }
        var byVIP: [IPAddress: Int] = [:]
        var serviceByKey: [String: Int] = [:]
        var endpoints: [[Int]] = []
        var selectedBy = [[Int]](repeating: [], count: workloads.count)
        for (index, service) in services.enumerated() {
            for vip in service.vips { byVIP[vip] = index }
            serviceByKey[service.key] = serviceByKey[service.key] ?? index
            // The selector's picks, then what the Service's slices list beyond them.
            var picked: [Int] = []
            if let selector = service.selector, !selector.isEmpty {
                picked = workloads.indices.filter {
                    workloads[$0].namespace == service.namespace && labelsMatch(selector: selector, labels: workloads[$0].labels)
                }
            }
            let listed = Set((fromSlices.endpointKeys[service.key] ?? []).compactMap { byKey[$0] }).subtracting(picked)
            endpoints.append(picked + listed.sorted())
            for workload in endpoints[index] { selectedBy[workload].append(index) }
        }
        workloadIndexByKey = byKey
        workloadIndexesByIP = byIP
        serviceIndexByVIP = byVIP
        serviceIndexByKey = serviceByKey
        endpointIndexes = endpoints
        serviceIndexesByWorkload = selectedBy
    }

    public func workload(key: String) -> Workload? { workloadIndexByKey[key].map { workloads[$0] } }

    /// Workloads holding an address (several when they share a host's address).
    public func workloads(at ip: IPAddress) -> [Workload] {
        (workloadIndexesByIP[ip] ?? []).map { workloads[$0] }
    }

    /// The workload listening at an address and port: when several share the
    /// address, the one that declares the port wins.
    public func workload(at address: IPEndpoint) -> Workload? {
        let candidates = workloads(at: address.ip)
        if candidates.count <= 1 { return candidates.first }
        return candidates.first { $0.ports.values.contains(address.port) } ?? candidates.first
    }

    /// The workloads that node's agent serves: those known in full. EndpointSlice
    /// workloads are left out — an agent enrolls, certifies and vouches only for
    /// pods it knows, and a slice endpoint is just an address to reach.
    public func workloads(onNode node: String) -> [Workload] {
        workloads.filter { $0.node == node && $0.source != .endpointSlice }
    }

    public func service(vip: IPAddress) -> MeshService? { serviceIndexByVIP[vip].map { services[$0] } }

    public func service(key: String) -> MeshService? { serviceIndexByKey[key].map { services[$0] } }

    /// The workloads a Service's selector picks (same namespace).
    public func endpoints(of service: MeshService) -> [Workload] {
        guard let index = serviceIndexByKey[service.key] else { return [] }
        return endpointIndexes[index].map { workloads[$0] }
    }

    /// The Services whose endpoints include the workload, in Service key order.
    public func services(selecting workload: Workload) -> [MeshService] {
        guard let index = workloadIndexByKey[workload.key] else { return [] }
        return serviceIndexesByWorkload[index].map { services[$0] }
    }

}
