import FerryMesh
import FerryPolicy
import FerryTelemetry
import Logging
import NIOCore

/// What every listener and connection handler of one agent shares.
public struct ProxyContext: Sendable {
    public let node: String
    public let store: StateStore
    public let enrollment: EnrollmentTable
    public let connections: ConnectionTable
    public let router: OutboundRouter
    public let balancer: LoadBalancer
    public let accessLog: AccessLog
    public let logger: Logger
    public var upstreamConnectTimeout: TimeAmount = .seconds(5)
    /// Outbound HBONE connections; nil when the agent has no identity (no CA).
    public var hbonePool: HBONEPool?
    /// HTTP traffic management; nil when the agent has no identity.
    var l7: L7Proxy?
    /// Request spans for HTTP traffic; nil: only `traceparent` propagation.
    public var tracer: RequestTracer?
    /// AuthorizationPolicy and PeerAuthentication, compiled once per state generation.
    public let policies: SecurityPolicyCache
    public let policyMetrics: PolicyMetrics
    /// What the readiness endpoint still waits for.
    public let readiness = Readiness()

    public init(node: String, store: StateStore, enrollment: EnrollmentTable, connections: ConnectionTable,
                accessLog: AccessLog, policyMetrics: PolicyMetrics, policies: SecurityPolicyCache = SecurityPolicyCache(),
                logger: Logger) {
        self.policyMetrics = policyMetrics
        self.policies = policies
        self.node = node
        self.store = store
        self.enrollment = enrollment
        self.connections = connections
        self.router = OutboundRouter()
        self.balancer = LoadBalancer()
        self.accessLog = accessLog
        self.logger = logger
    }
}
