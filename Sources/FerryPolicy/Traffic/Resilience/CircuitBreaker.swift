import FerryMesh
import Synchronization

/// Istio's connectionPool limits for one destination, as Envoy's circuit
/// breakers count them: connections open, requests waiting for a connection,
/// requests in flight and retries in flight. Acquiring past a limit is an
/// overflow, which the proxy answers with 503 and response flag UO, without
/// queueing. Every allowed acquire must be released exactly once.
public final class CircuitBreaker: Sendable {
    public enum Resource: String, Sendable, CaseIterable {
        case connection
        case pendingRequest
        case request
        case retry
    }

    public enum Admission: Sendable, Equatable {
        case allowed
        case overflow(Resource)
    }

    /// Envoy's response flag for an upstream overflow.
    public static let overflowResponseFlag = "UO"

    private struct State {
        var limits: ConnectionPoolSettings
        var inUse: [Resource: Int] = [:]
    }

    private let state: Mutex<State>

    public init(limits: ConnectionPoolSettings) {
        state = Mutex(State(limits: limits))
    }

    /// New limits apply to the next acquire; what is held stays held.
    public func update(limits: ConnectionPoolSettings) {
        state.withLock { $0.limits = limits }
    }

    public func tryAcquire(_ resource: Resource) -> Admission {
        state.withLock { state in
            let used = state.inUse[resource, default: 0]
            guard used < Self.limit(resource, state.limits) else { return .overflow(resource) }
            state.inUse[resource] = used + 1
            return .allowed
        }
    }

    public func release(_ resource: Resource) {
        state.withLock { state in
            let used = state.inUse[resource, default: 0]
            precondition(used > 0, "CircuitBreaker: \(resource) released more often than acquired")
            state.inUse[resource] = used - 1
        }
    }

    public func inUse(_ resource: Resource) -> Int {
        state.withLock { $0.inUse[resource, default: 0] }
    }

    static func limit(_ resource: Resource, _ limits: ConnectionPoolSettings) -> Int {
        switch resource {
        case .connection: limits.maxConnections
        case .pendingRequest: limits.maxPendingRequests
        case .request: limits.maxRequests
        case .retry: limits.maxRetries
        }
    }
}
