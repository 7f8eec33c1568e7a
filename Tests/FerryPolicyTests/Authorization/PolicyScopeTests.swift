import FerryMesh
import FerryPolicy
import Testing

/// Which policies apply to which workload: namespace, root namespace, selector.
@Suite struct PolicyScopeTests {
    static let workloads = ["foo/httpbin", "foo/products", "bar/httpbin", "istio-system/gateway"]

    struct ScopeCase: Sendable, CustomTestStringConvertible {
        var name: String
        var namespace: String
        var selector: String?
        /// The workloads the policy must apply to; every other fixture workload must be untouched.
        var applies: [String]
        var rootNamespace: String?
        var testDescription: String { name }
    }

    static let cases: [ScopeCase] = [
        ScopeCase(name: "namespace-wide", namespace: "foo", applies: ["foo/httpbin", "foo/products"]),
        ScopeCase(name: "selector within the namespace", namespace: "foo", selector: "{app: httpbin}", applies: ["foo/httpbin"]),
        ScopeCase(name: "every selector label must match", namespace: "foo", selector: "{app: httpbin, version: v2}", applies: []),
        ScopeCase(name: "a subset of the labels is enough", namespace: "foo", selector: "{version: v2}", applies: ["foo/products"]),
        ScopeCase(name: "empty matchLabels selects all", namespace: "bar", selector: "{}", applies: ["bar/httpbin"]),
        ScopeCase(name: "root namespace without selector is mesh-wide", namespace: "istio-system", applies: workloads),
        ScopeCase(name: "root namespace with selector selects in every namespace", namespace: "istio-system",
                  selector: "{app: httpbin}", applies: ["foo/httpbin", "bar/httpbin"]),
        ScopeCase(name: "root namespace version: v1 (Istio's example)", namespace: "istio-system", selector: "{version: v1}",
                  applies: ["foo/httpbin", "bar/httpbin"]),
        ScopeCase(name: "istio-system is ordinary when another root is configured", namespace: "istio-system",
                  applies: ["istio-system/gateway"], rootNamespace: "mesh-root"),
        ScopeCase(name: "a configured root namespace is mesh-wide", namespace: "mesh-root", applies: workloads,
                  rootNamespace: "mesh-root"),
        ScopeCase(name: "a namespace without workloads", namespace: "empty", applies: []),
    ]

    /// An allow-nothing policy: it denies exactly the workloads it applies to.
    @Test(arguments: cases)
    func scope(_ scope: ScopeCase) throws {
        var yaml = Fixtures.policy("allow-nothing", namespace: scope.namespace,
                                   scope.selector.map { "selector: {matchLabels: \($0)}" } ?? "{}")
        if let root = scope.rootNamespace {
            yaml += "\n---\napiVersion: ferry.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {rootNamespace: \(root)}"
        }
        let state = try Fixtures.state(yaml)
        let authorizer = Authorizer(state: state)
        for key in Self.workloads {
            let decision = authorizer.evaluate(Fixtures.request(to: key, in: state))
            #expect(decision.allowed == !scope.applies.contains(key), "\(key): \(decision.reason)")
            #expect(authorizer.policies(applyingTo: Fixtures.workload(key, in: state)).count == (scope.applies.contains(key) ? 1 : 0))
        }
    }

    @Test func aRootNamespaceWorkloadGetsRootPoliciesOnce() throws {
        let state = try Fixtures.state(Fixtures.policy("audit", namespace: "istio-system", "action: AUDIT\nrules:\n- {}"))
        let decision = Authorizer(state: state).evaluate(Fixtures.request(to: "istio-system/gateway", in: state))
        #expect(decision.auditPolicies.map(\.description) == ["istio-system/audit"])
    }

    @Test func namespaceAndRootPoliciesCombine() throws {
        let state = try Fixtures.state([
            Fixtures.policy("deny-dev", namespace: "istio-system", "action: DENY\nrules:\n- from: [{source: {namespaces: [dev]}}]"),
            Fixtures.policy("allow-default", "rules:\n- from: [{source: {namespaces: [default, dev]}}]"),
        ].joined(separator: "\n---\n"))
        let authorizer = Authorizer(state: state)
        #expect(authorizer.evaluate(Fixtures.request(in: state)).allowed)
        let fromDev = authorizer.evaluate(Fixtures.request(in: state, principal: "cluster.local/ns/dev/sa/x"))
        #expect(fromDev.policy?.description == "istio-system/deny-dev")
        // bar has no ALLOW policy: only the mesh-wide DENY applies.
        #expect(authorizer.evaluate(Fixtures.request(to: "bar/httpbin", in: state, principal: "cluster.local/ns/other/sa/x")).allowed)
        #expect(authorizer.policies(applyingTo: Fixtures.workload("foo/httpbin", in: state)).map(\.policy.description)
            == ["foo/allow-default", "istio-system/deny-dev"])
    }

    /// A workload the snapshot does not know, or knows with other labels, is
    /// judged by its own labels, not by a stale cached list.
    @Test func workloadsOutsideTheSnapshotAreStillScoped() throws {
        let state = try Fixtures.state(Fixtures.policy("allow-nothing", "selector: {matchLabels: {app: httpbin}}"))
        let authorizer = Authorizer(state: state)
        var request = Fixtures.request(in: state)
        #expect(!authorizer.evaluate(request).allowed)

        request.destination.labels = ["app": "relabelled"]
        #expect(authorizer.evaluate(request).allowed)

        request.destination = Workload(name: "new", namespace: "foo", labels: ["app": "httpbin"], addresses: [IPAddress("10.0.1.9")!])
        #expect(!authorizer.evaluate(request).allowed)
        request.destination.namespace = "bar"
        #expect(authorizer.evaluate(request).allowed)
    }
}
