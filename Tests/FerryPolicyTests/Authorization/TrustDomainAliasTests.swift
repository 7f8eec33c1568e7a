import FerryMesh
import FerryPolicy
import Testing

/// `cluster.local` in a policy's principals means the mesh's trust domain.
@Suite struct TrustDomainAliasTests {
    static let mesh = "apiVersion: ferry.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {trustDomain: example.org}"

    @Test(arguments: [
        ("principals: [\"cluster.local/ns/default/sa/sleep\"]", "example.org/ns/default/sa/sleep", true),
        ("principals: [\"cluster.local/ns/default/sa/sleep\"]", "cluster.local/ns/default/sa/sleep", false),
        ("principals: [\"cluster.local/ns/default/*\"]", "example.org/ns/default/sa/any", true),
        ("principals: [\"example.org/ns/default/sa/sleep\"]", "example.org/ns/default/sa/sleep", true),
        ("principals: [\"*/sa/sleep\"]", "example.org/ns/default/sa/sleep", true),
        ("notPrincipals: [\"cluster.local/ns/default/sa/sleep\"]", "example.org/ns/default/sa/sleep", false),
    ])
    func localAliasMeansTheMeshTrustDomain(source: String, peer: String, allowed: Bool) throws {
        let state = try Fixtures.state(Self.mesh + "\n---\n" + Fixtures.policy("p", "rules:\n- from: [{source: {\(source)}}]"))
        let request = Fixtures.request(in: state, principal: peer)
        #expect(Authorizer(state: state).evaluate(request).allowed == allowed)
        #expect(LinearScanAuthorizer(state: state).evaluate(request).allowed == allowed)
    }

    @Test func conditionsToo() throws {
        let state = try Fixtures.state(Self.mesh + "\n---\n" + Fixtures.policy("p", """
        rules:
        - when: [{key: source.principal, values: ["cluster.local/ns/default/sa/sleep"]}]
        """))
        #expect(Authorizer(state: state).evaluate(Fixtures.request(in: state, principal: "example.org/ns/default/sa/sleep")).allowed)
    }
}
