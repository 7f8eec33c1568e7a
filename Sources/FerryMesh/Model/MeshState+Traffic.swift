/// The traffic resources that apply to a Service or workload.
extension MeshState {
    /// HTTPRoutes with a parentRef to the Service, from any namespace, sorted by
    /// key. Which of them a client sees (producer or consumer routes) is
    /// FerryPolicy's `HTTPRouteTable`'s business.
    public func httpRoutes(for service: MeshService) -> [HTTPRoute] {
        (trafficIndex.routesByService[service.key] ?? []).map { httpRoutes[$0] }
    }

    /// GRPCRoutes with a parentRef to the Service, from any namespace, sorted by key.
    public func grpcRoutes(for service: MeshService) -> [GRPCRoute] {
        (trafficIndex.grpcRoutesByService[service.key] ?? []).map { grpcRoutes[$0] }
    }

    /// The DestinationRule for requests to the Service, looked up as Istio does:
    /// a rule in the client's namespace, else in the Service's, else in the
    /// root namespace; the oldest (then the first by name) within a namespace.
    /// Rules in other namespaces do not apply.
    public func destinationRule(for service: MeshService, clientNamespace: String? = nil) -> DestinationRule? {
        // Asked per request: no allocation, and nothing at all without rules.
        guard !destinationRules.isEmpty, let indexes = trafficIndex.destinationRulesByService[service.key] else { return nil }
        for namespace in [clientNamespace, service.namespace, config.rootNamespace] {
            guard let namespace else { continue }
            if let index = indexes.first(where: { destinationRules[$0].namespace == namespace }) { return destinationRules[index] }
        }
        return nil
    }

    /// The fault rules of every VirtualService naming the Service, oldest
    /// VirtualService first, each one's rules in written order.
    public func faults(for service: MeshService) -> [FaultRule] {
        (trafficIndex.faultsByService[service.key] ?? []).flatMap { virtualServices[$0].rules }
    }

    /// The RateLimit that targets the Service itself.
    public func rateLimit(for service: MeshService) -> RateLimit? {
        trafficIndex.rateLimitByService[service.key].map { rateLimits[$0] }
    }

    /// The limit each request to the workload is held to: its own RateLimit,
    /// else that of a Service selecting it (the first by key).
    public func rateLimit(for workload: Workload) -> RateLimit? {
        guard !rateLimits.isEmpty else { return nil }  // asked per request
        if let index = trafficIndex.rateLimitByWorkload[workload.key] { return rateLimits[index] }
        return services(selecting: workload).lazy.compactMap { self.rateLimit(for: $0) }.first
    }
}
