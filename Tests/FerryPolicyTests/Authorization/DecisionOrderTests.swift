import FerryMesh
import FerryPolicy
import Testing

/// Istio's evaluation order: DENY, then ALLOW, then the default; AUDIT aside.
@Suite struct DecisionOrderTests {
    static let denyAll = Fixtures.policy("deny-all", "action: DENY\nrules:\n- {}")
    static let allowAll = Fixtures.policy("allow-all", "action: ALLOW\nrules:\n- {}")
    static let allowNothing = Fixtures.policy("allow-nothing", "{}")
    static let allowTest = Fixtures.policy("allow-test", "rules:\n- from: [{source: {namespaces: [test]}}]")
    static let denyTest = Fixtures.policy("deny-test", "action: DENY\nrules:\n- from: [{source: {namespaces: [test]}}]")
    static let auditAll = Fixtures.policy("audit-all", "action: AUDIT\nrules:\n- {}")
    static let auditTest = Fixtures.policy("audit-test", "action: AUDIT\nrules:\n- from: [{source: {namespaces: [test]}}]")
    static let denyWithoutRules = Fixtures.policy("deny-nothing", "action: DENY")
    static let otherWorkloadOnly = Fixtures.policy("products-only", "selector: {matchLabels: {app: products}}\nrules:\n- {}")

    struct OrderCase: Sendable, CustomTestStringConvertible {
        var name: String
        var policies: [String]
        var allowed: Bool
        var cause: AuthorizationDecision.Cause
        var deciding: String?
        var audited: [String] = []
        var testDescription: String { name }
    }

    static let cases: [OrderCase] = [
        OrderCase(name: "no policy allows", policies: [], allowed: true, cause: .noAllowPolicy),
        OrderCase(name: "DENY wins over ALLOW", policies: [allowAll, denyAll], allowed: false, cause: .deniedByPolicy,
                  deciding: "foo/deny-all"),
        OrderCase(name: "a DENY that does not match leaves the default", policies: [denyTest], allowed: true, cause: .noAllowPolicy),
        OrderCase(name: "a DENY that does not match leaves ALLOW to decide", policies: [denyTest, allowTest], allowed: false,
                  cause: .noAllowPolicyMatched),
        OrderCase(name: "an ALLOW that matches allows", policies: [allowAll], allowed: true, cause: .allowedByPolicy,
                  deciding: "foo/allow-all"),
        OrderCase(name: "an ALLOW that applies but does not match denies", policies: [allowTest], allowed: false,
                  cause: .noAllowPolicyMatched),
        OrderCase(name: "one matching ALLOW among several is enough", policies: [allowTest, allowAll], allowed: true,
                  cause: .allowedByPolicy, deciding: "foo/allow-all"),
        OrderCase(name: "allow-nothing denies", policies: [allowNothing], allowed: false, cause: .noAllowPolicyMatched),
        OrderCase(name: "allow-nothing is overridden by another ALLOW", policies: [allowNothing, allowAll], allowed: true,
                  cause: .allowedByPolicy, deciding: "foo/allow-all"),
        OrderCase(name: "a DENY without rules matches nothing", policies: [denyWithoutRules], allowed: true, cause: .noAllowPolicy),
        OrderCase(name: "an ALLOW for another workload does not apply", policies: [otherWorkloadOnly], allowed: true,
                  cause: .noAllowPolicy),
        OrderCase(name: "AUDIT alone does not change the default", policies: [auditAll], allowed: true, cause: .noAllowPolicy,
                  audited: ["foo/audit-all"]),
        OrderCase(name: "AUDIT is not an ALLOW policy", policies: [auditAll, allowTest], allowed: false,
                  cause: .noAllowPolicyMatched, audited: ["foo/audit-all"]),
        OrderCase(name: "AUDIT is reported with a DENY", policies: [auditAll, auditTest, denyAll], allowed: false,
                  cause: .deniedByPolicy, deciding: "foo/deny-all", audited: ["foo/audit-all"]),
    ]

    @Test(arguments: cases)
    func order(_ order: OrderCase) throws {
        let state = try Fixtures.state(order.policies.joined(separator: "\n---\n"))
        let request = Fixtures.request(in: state)
        let decision = Authorizer(state: state).evaluate(request)
        #expect(decision.allowed == order.allowed, "\(decision.reason)")
        #expect(decision.cause == order.cause)
        #expect(decision.policy?.description == order.deciding)
        #expect(decision.auditPolicies.map(\.description) == order.audited)
        #expect(decision.action == order.deciding.map { _ in order.allowed ? .allow : .deny })
        #expect(LinearScanAuthorizer(state: state).evaluate(request) == decision)
    }

    @Test func reasonsSayWhatDecided() throws {
        let state = try Fixtures.state([Self.denyAll, Self.allowTest].joined(separator: "\n---\n"))
        let decision = Authorizer(state: state).evaluate(Fixtures.request(in: state))
        #expect(decision.reason == "denied by DENY policy foo/deny-all rule 0")
        #expect(AuthorizationDecision(allowed: false, cause: .noAllowPolicyMatched).reason
            == "denied: ALLOW policies apply to the workload but none matched")
    }
}
