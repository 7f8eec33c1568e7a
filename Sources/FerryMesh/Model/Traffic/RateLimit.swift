/// Local rate limiting (`kind: RateLimit`, `ferry.dev/v1alpha1`), Ferry's own kind:
///
/// ```yaml
/// apiVersion: ferry.dev/v1alpha1
/// kind: RateLimit
/// metadata: {name: echo, namespace: demo}
/// spec:
///   targetRef: {kind: Service, name: echo}   # or kind: Workload / WorkloadEntry / Pod
///   requestsPerSecond: 100
///   burst: 200                               # default: requestsPerSecond
/// ```
///
/// The limit is per destination workload: every endpoint of a targeted Service
/// (or the one targeted workload) gets its own token bucket, refilled at
/// `requestsPerSecond` and holding at most `burst` tokens. Like Envoy's local
/// rate limit, a bucket lives in one proxy: the agent that handles the request
/// at L7, which is the client's agent (it acts as the destination's waypoint).
/// Clients on N nodes can therefore reach the workload at up to N times the
/// rate; a limit shared across agents would need a rate-limit service. Requests
/// over the limit get 429 with response flag RL and `x-ferry-ratelimited`. A workload named by a RateLimit of its
/// own uses that one rather than its Service's. At most one RateLimit may
/// target a given Service or workload.
public struct RateLimit: Hashable, Sendable {
    public enum Target: Hashable, Sendable {
        /// A Service in the RateLimit's namespace, by name.
        case service(String)
        /// A workload (WorkloadEntry or Pod) in the RateLimit's namespace, by name.
        case workload(String)
    }

    public var name: String
    public var namespace: String
    public var target: Target
    public var requestsPerSecond: Int
    public var burst: Int

    public init(name: String, namespace: String, target: Target, requestsPerSecond: Int, burst: Int? = nil) {
        self.name = name
        self.namespace = namespace
        self.target = target
        self.requestsPerSecond = requestsPerSecond
        self.burst = burst ?? requestsPerSecond
    }

    public var key: String { "\(namespace)/\(name)" }

    /// "namespace/name" of the Service or workload the limit applies to.
    public var targetKey: String {
        switch target {
        case .service(let name), .workload(let name): "\(namespace)/\(name)"
        }
    }

    static let apiVersions: Set<String> = ["ferry.dev/v1alpha1"]
    static let workloadKinds: Set<String> = ["Workload", "WorkloadEntry", "Pod"]

    init(document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root)
        guard let specField = document["spec"], !specField.isNull else { throw root.error("RateLimit \(meta.name): spec is required") }
        let spec = try specField.fields(allowing: ["targetRef", "requestsPerSecond", "burst"])
        let targetField = try spec.required("targetRef", in: specField)
        let targetRef = try targetField.fields(allowing: ["kind", "name"])
        let kind = try targetRef.requiredString("kind", in: targetField)
        let name = try targetRef.requiredString("name", in: targetField)
        let target: Target
        if kind == "Service" {
            target = .service(name)
        } else if Self.workloadKinds.contains(kind) {
            target = .workload(name)
        } else {
            throw targetField.error("spec.targetRef.kind '\(kind)' is not one of Service, Workload, WorkloadEntry, Pod", atKey: "kind")
        }
        guard let rate = try spec.int("requestsPerSecond", in: 1...1_000_000_000) else {
            throw specField.error("spec.requestsPerSecond is required")
        }
        self.init(name: meta.name, namespace: meta.namespace, target: target, requestsPerSecond: rate,
                  burst: try spec.int("burst", in: 1...1_000_000_000))
    }
}
