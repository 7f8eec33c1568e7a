import FerryMesh
import FerryPolicy
import Testing

/// HTTP-only fields on plain TCP, step by step as Istio's task "Authorization
/// for TCP traffic" (tasks/security/authorization/authz-tcp) walks through it
/// with tcp-echo on ports 9000, 9001 and 9002: an ALLOW rule with an HTTP-only
/// field is ignored; a DENY rule ignores just the HTTP-only field.
@Suite struct TCPAuthorizationTests {
    struct Step: Sendable, CustomTestStringConvertible {
        var name: String
        var spec: String
        /// Port → allowed, for plain TCP connections.
        var tcp: [Int: Bool]
        var testDescription: String { name }
    }

    static let steps: [Step] = [
        Step(name: "ALLOW ports 9000 and 9001", spec: """
        action: ALLOW
        rules:
        - to:
          - operation:
              ports: ["9000", "9001"]
        """, tcp: [9000: true, 9001: true, 9002: false]),
        Step(name: "ALLOW with methods is ignored on TCP", spec: """
        action: ALLOW
        rules:
        - to:
          - operation:
              methods: ["GET"]
              ports: ["9000"]
        """, tcp: [9000: false, 9001: false, 9002: false]),
        Step(name: "DENY with only methods denies all TCP", spec: """
        action: DENY
        rules:
        - to:
          - operation:
              methods: ["GET"]
        """, tcp: [9000: false, 9001: false, 9002: false]),
        Step(name: "DENY with methods and ports denies that port", spec: """
        action: DENY
        rules:
        - to:
          - operation:
              methods: ["GET"]
              ports: ["9000"]
        """, tcp: [9000: false, 9001: true, 9002: true]),
        Step(name: "DENY notMethods is ignored on TCP too", spec: """
        action: DENY
        rules:
        - to:
          - operation:
              notMethods: ["GET"]
              ports: ["9001"]
        """, tcp: [9000: true, 9001: false]),
        Step(name: "ALLOW with a header condition is ignored on TCP", spec: """
        rules:
        - when:
          - key: request.headers[x-version]
            values: ["v1"]
        """, tcp: [9000: false]),
        Step(name: "DENY with a header condition ignores it on TCP", spec: """
        action: DENY
        rules:
        - to: [{operation: {ports: ["9000"]}}]
          when:
          - key: request.headers[x-version]
            values: ["v1"]
        """, tcp: [9000: false, 9001: true]),
        Step(name: "only the ALLOW rule with HTTP fields is ignored", spec: """
        rules:
        - to: [{operation: {paths: ["/admin"], ports: ["9000"]}}]
        - to: [{operation: {ports: ["9001"]}}]
        """, tcp: [9000: false, 9001: true]),
        Step(name: "an HTTP field in any operation makes the ALLOW rule HTTP-only", spec: """
        rules:
        - to:
          - operation: {ports: ["9000"]}
          - operation: {hosts: ["tcp-echo.foo"]}
        """, tcp: [9000: false]),
    ]

    @Test(arguments: steps)
    func step(_ step: Step) throws {
        let state = try Fixtures.state(Fixtures.policy("tcp-policy", step.spec))
        let authorizer = Authorizer(state: state)
        for (port, allowed) in step.tcp.sorted(by: { $0.key < $1.key }) {
            let request = Fixtures.request(in: state, port: port)
            let decision = authorizer.evaluate(request)
            #expect(decision.allowed == allowed, "port \(port): \(decision.reason)")
            #expect(LinearScanAuthorizer(state: state).evaluate(request) == decision)
        }
    }

    /// The same policies still read their HTTP fields on HTTP requests.
    @Test func httpRequestsUseTheHTTPFields() throws {
        let allow = try Fixtures.state(Fixtures.policy("tcp-policy", "rules:\n- to: [{operation: {methods: [GET], ports: [\"9000\"]}}]"))
        #expect(Authorizer(state: allow).evaluate(Fixtures.request(in: allow, port: 9000, http: Fixtures.get())).allowed)
        #expect(!Authorizer(state: allow).evaluate(Fixtures.request(in: allow, port: 9000, http: Fixtures.http("POST"))).allowed)

        let deny = try Fixtures.state(Fixtures.policy("tcp-policy", "action: DENY\nrules:\n- to: [{operation: {methods: [GET]}}]"))
        #expect(!Authorizer(state: deny).evaluate(Fixtures.request(in: deny, port: 9000, http: Fixtures.get())).allowed)
        #expect(Authorizer(state: deny).evaluate(Fixtures.request(in: deny, port: 9000, http: Fixtures.http("POST"))).allowed)
    }

    /// AUDIT widens like DENY: auditing too much is the safe side.
    @Test func auditIgnoresHTTPFieldsOnTCP() throws {
        let state = try Fixtures.state(Fixtures.policy("audit", "action: AUDIT\nrules:\n- to: [{operation: {methods: [GET]}}]"))
        let tcp = Authorizer(state: state).evaluate(Fixtures.request(in: state))
        #expect(tcp.auditPolicies.map(\.description) == ["foo/audit"])
        let post = Authorizer(state: state).evaluate(Fixtures.request(in: state, http: Fixtures.http("POST")))
        #expect(post.auditPolicies.isEmpty)
    }

    /// A connection whose requests the sending agent judged (the waypoint): the
    /// destination leaves HTTP-only rules to it and checks what the connection
    /// alone decides, so a source denied whatever it asks stays denied.
    @Test func aConnectionJudgedUpstreamKeepsItsL4Rules() throws {
        func judged(_ state: MeshState, principal: String = Fixtures.sleep, port: Int = 9000) -> AuthorizationDecision {
            var request = Fixtures.request(in: state, port: port, principal: principal)
            request.httpJudgedUpstream = true
            let decision = Authorizer(state: state).evaluate(request)
            #expect(LinearScanAuthorizer(state: state).evaluate(request) == decision)
            return decision
        }
        // ALLOW rules count on their other parts: the right caller passes, any other does not.
        let allow = try Fixtures.state(Fixtures.policy("readers", """
            rules:
            - from: [{source: {principals: ["\(Fixtures.sleep)"]}}]
              to: [{operation: {methods: [GET], paths: ["/data"]}}]
            """))
        #expect(judged(allow).allowed)
        #expect(!judged(allow, principal: "cluster.local/ns/default/sa/intruder").allowed)
        // DENY rules with HTTP parts were the sending agent's to apply …
        let denyGET = try Fixtures.state(Fixtures.policy("no-get", "action: DENY\nrules:\n- to: [{operation: {methods: [GET]}}]"))
        #expect(judged(denyGET).allowed)
        // … those without still apply here.
        let denySleep = try Fixtures.state(Fixtures.policy("no-sleep", """
            action: DENY
            rules:
            - from: [{source: {principals: ["\(Fixtures.sleep)"]}}]
            """))
        #expect(!judged(denySleep).allowed)
        let denyPort = try Fixtures.state(Fixtures.policy("no-9001", "action: DENY\nrules:\n- to: [{operation: {ports: [\"9001\"]}}]"))
        #expect(judged(denyPort).allowed)
        #expect(!judged(denyPort, port: 9001).allowed)
    }
}

/// Which destination ports the destination agent must parse, request by request,
/// to apply its own rules (rather than trust a peer that says it checked them).
@Suite struct RequestAttributeNeedTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var spec: String
        var needs: [Int: Bool]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "no policy", spec: "", needs: [8000: false]),
        Case(name: "principals only", spec: """
        action: DENY
        rules: [{from: [{source: {principals: ["cluster.local/ns/x/sa/y"]}}]}]
        """, needs: [8000: false]),
        Case(name: "a DENY path on every port", spec: """
        action: DENY
        rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
        """, needs: [8000: true, 9000: true]),
        Case(name: "an ALLOW method on one port", spec: """
        rules: [{to: [{operation: {methods: [GET], ports: ["8000"]}}]}]
        """, needs: [8000: true, 9000: false]),
        Case(name: "notPaths counts", spec: """
        action: DENY
        rules: [{to: [{operation: {notPaths: ["/public"]}}]}]
        """, needs: [8000: true]),
        Case(name: "a request header condition", spec: """
        action: AUDIT
        rules: [{when: [{key: "request.headers[x-user]", values: ["bob"]}]}]
        """, needs: [8000: true]),
        Case(name: "a policy of another workload", spec: """
        selector: {matchLabels: {app: products}}
        action: DENY
        rules: [{to: [{operation: {paths: ["/admin"]}}]}]
        """, needs: [8000: false]),
    ]

    @Test(arguments: cases)
    func needs(_ test: Case) throws {
        let state = try Fixtures.state(test.spec.isEmpty ? "" : Fixtures.policy("p", test.spec))
        let httpbin = Fixtures.workload("foo/httpbin", in: state)
        for (port, needed) in test.needs.sorted(by: { $0.key < $1.key }) {
            #expect(Authorizer(state: state).needsRequestAttributes(destination: httpbin, port: port) == needed, "port \(port)")
        }
    }
}

/// A source whose address is unknown is nil, never 0.0.0.0: it is in no
/// `ipBlocks` (not even 0.0.0.0/0) and outside every `notIpBlocks`, as an
/// absent principal is.
@Suite struct UnknownSourceAddressTests {
    static func decide(_ spec: String) throws -> Bool {
        let state = try Fixtures.state(Fixtures.policy("p", spec))
        var request = Fixtures.request(in: state)
        request.sourceIP = nil
        let decision = Authorizer(state: state).evaluate(request)
        #expect(LinearScanAuthorizer(state: state).evaluate(request) == decision)
        return decision.allowed
    }

    @Test func anAllowByAddressNeverAdmitsAnUnknownSource() throws {
        #expect(try !Self.decide("rules: [{from: [{source: {ipBlocks: [\"0.0.0.0/0\", \"::/0\"]}}]}]"))
        #expect(try !Self.decide("rules: [{when: [{key: source.ip, values: [\"0.0.0.0/0\"]}]}]"))
    }

    @Test func aDenyOfEverythingButABlockDeniesAnUnknownSource() throws {
        #expect(try !Self.decide("action: DENY\nrules: [{from: [{source: {notIpBlocks: [\"10.0.0.0/8\"]}}]}]"))
        #expect(try Self.decide("action: DENY\nrules: [{from: [{source: {ipBlocks: [\"0.0.0.0/0\"]}}]}]"), "a DENY of blocks does not match it")
    }
}
