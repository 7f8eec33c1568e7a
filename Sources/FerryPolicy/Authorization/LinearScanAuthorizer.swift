import FerryMesh

/// The plain reading of Istio's rules: every policy of the mesh is checked for
/// scope and then matched, on every decision. It shares the compiled matchers
/// and the decision order with `Authorizer` and differs only in not indexing,
/// which makes it the oracle that tests compare `Authorizer` against and the
/// baseline `ferry-bench policy` measures it against. Not for the data path.
public struct LinearScanAuthorizer: Sendable {
    private let rootNamespace: String
    /// Every policy, in key order.
    private let policies: [CompiledPolicy]

    public init(state: MeshState) {
        rootNamespace = state.config.rootNamespace
        policies = state.authorizationPolicies.map { CompiledPolicy($0, trustDomain: state.config.trustDomain) }
    }

    public func evaluate(_ request: AuthorizationRequest) -> AuthorizationDecision {
        var accumulator = DecisionAccumulator()
        for policy in policies where policy.applies(to: request.destination, rootNamespace: rootNamespace) {
            accumulator.consider(policy, for: request)
        }
        return accumulator.decision()
    }
}
