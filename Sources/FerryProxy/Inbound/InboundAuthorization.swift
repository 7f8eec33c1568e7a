import FerryMesh
import Foundation
import FerryPolicy
import FerryTelemetry
import Logging

/// AuthorizationPolicy at the destination side: what a connection looks like to
/// the engine, the decision with its metric, and the access-log line of a denial.
enum InboundAuthorization {
    static func request(destination: Workload, target: IPEndpoint, peer: InboundPeer) -> AuthorizationRequest {
        AuthorizationRequest(
            destination: destination, destinationIP: target.ip, destinationPort: target.port,
            source: peer.identity, sourceIP: peer.address
        )
    }

    static func decide(_ request: AuthorizationRequest, state: MeshState, context: ProxyContext) -> AuthorizationDecision {
        let decision = context.policies.policies(for: state).authorizer.evaluate(request)
        context.policyMetrics.decided(policy: decision.policy?.description, action: decision.action?.rawValue,
                                      allowed: decision.allowed)
        return decision
    }

    /// One access-log line naming the policy that decided, and a log line.
    static func logDenial(_ decision: AuthorizationDecision, request: AuthorizationRequest, peer: InboundPeer,
                          labels: TrafficLabels, context: ProxyContext) {
        context.accessLog.log([
            "type": "denial",
            "start_time": .string(Date().rfc3339),
            "src_addr": AccessLogValue(request.sourceIP?.description),
            "src_identity": AccessLogValue(peer.identity?.uri),
            "dst_addr": .string(IPEndpoint(ip: request.destinationIP, port: request.destinationPort).description),
            "dst_workload": .string(request.destination.key),
            "policy": AccessLogValue(decision.policy?.description),
            "reason": .string(decision.reason),
            "response_flags": .string(ResponseFlags.deny.rawValue),
            "connection_security_policy": .string(labels.securityPolicy.rawValue),
        ])
        context.logger.info("connection denied", metadata: [
            "ferry.policy": "\(decision.policy?.description ?? "-")", "ferry.reason": "\(decision.reason)",
            "ferry.destination": "\(request.destination.key):\(request.destinationPort)",
            "ferry.source": "\(peer.identity?.uri ?? request.sourceIP?.description ?? "unknown")",
        ])
    }
}
