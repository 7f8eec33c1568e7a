import FerryIdentity
import FerryMesh
import Testing

@Suite struct SigningPolicyTests {
    let state: MeshState

    init() throws {
        state = try TestPKI.state(workloads: [
            (namespace: "demo", serviceAccount: "web", node: "node-a"),
            (namespace: "demo", serviceAccount: "db", node: "node-b"),
        ])
    }

    @Test func allowedForAWorkloadOnTheNode() {
        #expect(SigningPolicy.decide(node: "node-a", identity: TestPKI.identity("demo", "web"), state: state) == .allow)
    }

    @Test func refusedForAWorkloadOnAnotherNode() {
        let decision = SigningPolicy.decide(node: "node-a", identity: TestPKI.identity("demo", "db"), state: state)
        #expect(decision == .refuse(reason: "node node-a has no workload with identity spiffe://cluster.local/ns/demo/sa/db"))
    }

    @Test func refusedForAnUnknownIdentity() {
        let decision = SigningPolicy.decide(node: "node-a", identity: TestPKI.identity("demo", "ghost"), state: state)
        #expect(decision == .refuse(reason: "node node-a has no workload with identity spiffe://cluster.local/ns/demo/sa/ghost"))
    }

    @Test func refusedForAnotherTrustDomainEvenWhenNamespaceAndAccountMatch() {
        let decision = SigningPolicy.decide(node: "node-a", identity: TestPKI.identity("demo", "web", trustDomain: "other.org"),
                                            state: state)
        guard case .refuse(let reason) = decision else {
            Issue.record("expected a refusal, got \(decision)")
            return
        }
        #expect(reason.contains("spiffe://other.org/ns/demo/sa/web"))
        #expect(reason.contains("trust domain cluster.local"))
        #expect(reason.contains("node-a"))
    }

    @Test func refusedForANodeWithNoWorkloads() {
        let decision = SigningPolicy.decide(node: "node-z", identity: TestPKI.identity("demo", "web"), state: state)
        #expect(decision == .refuse(reason: "node node-z has no workload with identity spiffe://cluster.local/ns/demo/sa/web"))
    }
}
