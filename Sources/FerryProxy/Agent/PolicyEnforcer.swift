import FerryMesh
import FerryPolicy
import Logging
import ServiceLifecycle

/// Applies policy changes to connections that are already open: on every new
/// state, each live inbound connection is judged again (AuthorizationPolicy, and
/// PeerAuthentication for plaintext ones) and closed if it is no longer allowed.
/// New connections see the new state at once; this covers the old ones.
public final class PolicyEnforcer: Service, Sendable {
    private let context: ProxyContext

    public init(context: ProxyContext) {
        self.context = context
    }

    public func run() async throws {
        var lastGeneration = -1
        for await state in context.store.updates().cancelOnGracefulShutdown() where state.generation != lastGeneration {
            lastGeneration = state.generation
            recheck(state)
        }
    }

    func recheck(_ state: MeshState) {
        let policies = context.policies.policies(for: state)
        for record in context.connections.all() where record.direction == .inbound {
            guard var request = record.authorization else { continue }
            // Judge the workload as it is now (its labels may have changed).
            guard let workload = state.workload(key: request.destination.key) else {
                close(record, reason: "destination workload \(request.destination.key) left the mesh")
                continue
            }
            request.destination = workload
            if record.labels.securityPolicy == .none,
               policies.peerAuthentication.mode(for: workload, port: request.destinationPort) == .strict {
                close(record, reason: "PeerAuthentication for \(workload.key):\(request.destinationPort) is now STRICT")
                continue
            }
            let decision = policies.authorizer.evaluate(request)
            if !decision.allowed {
                context.policyMetrics.decided(policy: decision.policy?.description, action: decision.action?.rawValue, allowed: false)
                close(record, reason: decision.reason)
            }
        }
    }

    private func close(_ record: ConnectionRecord, reason: String) {
        context.logger.info("closing a live connection that policy no longer allows", metadata: [
            "ferry.connection": "\(record.id)", "ferry.destination": "\(record.destinationWorkload ?? "-")",
            "ferry.source": "\(record.sourceIdentity ?? record.client?.description ?? "-")", "ferry.reason": "\(reason)",
        ])
        record.close()
    }
}
