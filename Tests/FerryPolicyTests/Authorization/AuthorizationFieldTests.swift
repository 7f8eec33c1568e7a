import FerryMesh
import FerryPolicy
import Testing

/// What a test request carries; built against the fixture mesh.
struct Probe: Sendable {
    var port = 8000
    var principal: String? = Fixtures.sleep
    var sourceIP = "10.0.0.5"
    var remoteIP: String?
    var http: HTTPRequestAttributes?

    func request(in state: MeshState) -> AuthorizationRequest {
        Fixtures.request(in: state, port: port, principal: principal, sourceIP: sourceIP, remoteIP: remoteIP, http: http)
    }

    static let tcp = Probe()
    static let plaintext = Probe(principal: nil)
    static func from(_ principal: String) -> Probe { Probe(principal: principal) }
    static func ip(_ address: String, remote: String? = nil) -> Probe { Probe(sourceIP: address, remoteIP: remote) }
    static func port(_ port: Int) -> Probe { Probe(port: port) }
    static func http(_ attributes: HTTPRequestAttributes) -> Probe { Probe(http: attributes) }
}

/// One rule with one field set, and a request it must (or must not) match.
struct FieldCase: Sendable, CustomTestStringConvertible {
    var name: String
    /// The rule as a YAML flow mapping.
    var rule: String
    var probe: Probe
    var matches: Bool
    var testDescription: String { name }

    init(_ name: String, _ rule: String, _ probe: Probe, _ matches: Bool) {
        self.name = name
        self.rule = rule
        self.probe = probe
        self.matches = matches
    }
}

@Suite struct AuthorizationFieldTests {
    static func source(_ fields: String) -> String { "{from: [{source: {\(fields)}}]}" }
    static func operation(_ fields: String) -> String { "{to: [{operation: {\(fields)}}]}" }
    static func when(_ key: String, _ values: String) -> String { "{when: [{key: \"\(key)\", \(values)}]}" }

    static let sourceCases: [FieldCase] = [
        FieldCase("principals exact", source("principals: [\"\(Fixtures.sleep)\"]"), .tcp, true),
        FieldCase("principals other", source("principals: [\"cluster.local/ns/default/sa/other\"]"), .tcp, false),
        FieldCase("principals need mTLS", source("principals: [\"\(Fixtures.sleep)\"]"), .plaintext, false),
        FieldCase("principals prefix", source("principals: [\"cluster.local/ns/default/*\"]"), .tcp, true),
        FieldCase("principals prefix other namespace", source("principals: [\"cluster.local/ns/test/*\"]"), .tcp, false),
        FieldCase("principals suffix", source("principals: [\"*/sa/sleep\"]"), .tcp, true),
        FieldCase("principals suffix other", source("principals: [\"*/sa/curl\"]"), .tcp, false),
        FieldCase("principals presence", source("principals: [\"*\"]"), .tcp, true),
        FieldCase("principals presence plaintext", source("principals: [\"*\"]"), .plaintext, false),
        FieldCase("principals without spiffe scheme only", source("principals: [\"spiffe://\(Fixtures.sleep)\"]"), .tcp, false),
        FieldCase("notPrincipals excludes", source("notPrincipals: [\"\(Fixtures.sleep)\"]"), .tcp, false),
        FieldCase("notPrincipals other", source("notPrincipals: [\"cluster.local/ns/default/sa/other\"]"), .tcp, true),
        FieldCase("notPrincipals plaintext", source("notPrincipals: [\"\(Fixtures.sleep)\"]"), .plaintext, true),
        FieldCase("notPrincipals presence matches plaintext", source("notPrincipals: [\"*\"]"), .plaintext, true),
        FieldCase("notPrincipals presence excludes mTLS", source("notPrincipals: [\"*\"]"), .tcp, false),
        FieldCase("namespaces", source("namespaces: [\"default\"]"), .tcp, true),
        FieldCase("namespaces other", source("namespaces: [\"test\"]"), .tcp, false),
        FieldCase("namespaces prefix", source("namespaces: [\"def*\"]"), .tcp, true),
        FieldCase("namespaces need mTLS", source("namespaces: [\"default\"]"), .plaintext, false),
        FieldCase("notNamespaces excludes", source("notNamespaces: [\"default\"]"), .tcp, false),
        FieldCase("notNamespaces other", source("notNamespaces: [\"test\"]"), .tcp, true),
        FieldCase("notNamespaces plaintext", source("notNamespaces: [\"default\"]"), .plaintext, true),
        FieldCase("ipBlocks CIDR", source("ipBlocks: [\"10.0.0.0/24\"]"), .tcp, true),
        FieldCase("ipBlocks CIDR outside", source("ipBlocks: [\"10.0.1.0/24\"]"), .tcp, false),
        FieldCase("ipBlocks single address", source("ipBlocks: [\"10.0.0.5\"]"), .tcp, true),
        FieldCase("ipBlocks IPv6 block, IPv4 source", source("ipBlocks: [\"2001:db8::/32\"]"), .tcp, false),
        FieldCase("ipBlocks IPv6", source("ipBlocks: [\"2001:db8::/32\"]"), .ip("2001:db8:1::7"), true),
        FieldCase("ipBlocks /0 is every IPv4", source("ipBlocks: [\"0.0.0.0/0\"]"), .ip("203.0.113.9"), true),
        FieldCase("ipBlocks reads the source, not the remote", source("ipBlocks: [\"192.0.2.0/24\"]"),
                  .ip("10.0.0.5", remote: "192.0.2.9"), false),
        FieldCase("notIpBlocks excludes", source("notIpBlocks: [\"10.0.0.5\"]"), .tcp, false),
        FieldCase("notIpBlocks other", source("notIpBlocks: [\"10.0.0.6\"]"), .tcp, true),
        FieldCase("remoteIpBlocks reads the remote", source("remoteIpBlocks: [\"192.0.2.0/24\"]"),
                  .ip("10.0.0.5", remote: "192.0.2.9"), true),
        FieldCase("remoteIpBlocks ignores the source", source("remoteIpBlocks: [\"10.0.0.0/8\"]"),
                  .ip("10.0.0.5", remote: "192.0.2.9"), false),
        FieldCase("remoteIpBlocks without a remote reads the source", source("remoteIpBlocks: [\"10.0.0.0/8\"]"), .tcp, true),
        FieldCase("notRemoteIpBlocks excludes", source("notRemoteIpBlocks: [\"192.0.2.9\"]"), .ip("10.0.0.5", remote: "192.0.2.9"), false),
        FieldCase("notRemoteIpBlocks other", source("notRemoteIpBlocks: [\"192.0.2.10\"]"), .ip("10.0.0.5", remote: "192.0.2.9"), true),
        FieldCase("fields of one source are ANDed", source("principals: [\"\(Fixtures.sleep)\"], ipBlocks: [\"10.9.0.0/16\"]"), .tcp, false),
        FieldCase("values of one field are ORed", source("namespaces: [\"test\", \"default\"]"), .tcp, true),
        FieldCase("sources are ORed", "{from: [{source: {namespaces: [\"test\"]}}, {source: {ipBlocks: [\"10.0.0.0/8\"]}}]}", .tcp, true),
    ]

    static let operationCases: [FieldCase] = [
        FieldCase("ports", operation("ports: [\"8000\"]"), .port(8000), true),
        FieldCase("ports other", operation("ports: [\"8000\"]"), .port(9000), false),
        FieldCase("ports as numbers", operation("ports: [8000, 9000]"), .port(9000), true),
        FieldCase("notPorts excludes", operation("notPorts: [\"8000\"]"), .port(8000), false),
        FieldCase("notPorts other", operation("notPorts: [\"8000\"]"), .port(9000), true),
        FieldCase("hosts suffix", operation("hosts: [\"*.example.com\"]"), .http(Fixtures.get(host: "api.example.com")), true),
        FieldCase("hosts ignore case", operation("hosts: [\"*.example.com\"]"), .http(Fixtures.get(host: "API.Example.COM")), true),
        FieldCase("hosts other", operation("hosts: [\"*.example.com\"]"), .http(Fixtures.get(host: "example.org")), false),
        FieldCase("hosts exact", operation("hosts: [\"httpbin.foo\"]"), .http(Fixtures.get()), true),
        FieldCase("notHosts excludes", operation("notHosts: [\"httpbin.*\"]"), .http(Fixtures.get()), false),
        FieldCase("notHosts other", operation("notHosts: [\"admin.*\"]"), .http(Fixtures.get()), true),
        FieldCase("methods", operation("methods: [\"GET\", \"HEAD\"]"), .http(Fixtures.get()), true),
        FieldCase("methods other", operation("methods: [\"POST\"]"), .http(Fixtures.get()), false),
        FieldCase("methods are case-sensitive", operation("methods: [\"get\"]"), .http(Fixtures.get()), false),
        FieldCase("notMethods excludes", operation("notMethods: [\"GET\"]"), .http(Fixtures.get()), false),
        FieldCase("notMethods other", operation("notMethods: [\"DELETE\"]"), .http(Fixtures.get()), true),
        FieldCase("paths prefix", operation("paths: [\"/info*\"]"), .http(Fixtures.get("/info/about")), true),
        FieldCase("paths prefix other", operation("paths: [\"/info*\"]"), .http(Fixtures.get("/data")), false),
        FieldCase("paths exact ignores the query", operation("paths: [\"/data\"]"), .http(Fixtures.get("/data?page=2")), true),
        FieldCase("paths exact", operation("paths: [\"/data\"]"), .http(Fixtures.get("/data/x")), false),
        FieldCase("paths suffix", operation("paths: [\"*/info\"]"), .http(Fixtures.get("/a/b/info")), true),
        FieldCase("paths suffix reads no query", operation("paths: [\"*/info\"]"), .http(Fixtures.get("/a?x=/info")), false),
        FieldCase("paths presence", operation("paths: [\"*\"]"), .http(Fixtures.get("/")), true),
        FieldCase("notPaths excludes", operation("notPaths: [\"/healthz\"]"), .http(Fixtures.get("/healthz")), false),
        FieldCase("notPaths other", operation("notPaths: [\"/healthz\"]"), .http(Fixtures.get("/data")), true),
        FieldCase("fields of one operation are ANDed",
                  operation("methods: [\"GET\"], paths: [\"/admin*\"]"), .http(Fixtures.get("/data")), false),
        FieldCase("operations are ORed", "{to: [{operation: {methods: [\"POST\"]}}, {operation: {paths: [\"/data\"]}}]}",
                  .http(Fixtures.get("/data")), true),
    ]

    static let conditionCases: [FieldCase] = [
        FieldCase("source.ip", when("source.ip", "values: [\"10.0.0.0/16\"]"), .tcp, true),
        FieldCase("source.ip other", when("source.ip", "values: [\"10.1.0.0/16\"]"), .tcp, false),
        FieldCase("source.ip notValues", when("source.ip", "notValues: [\"10.0.0.5\"]"), .tcp, false),
        FieldCase("remote.ip", when("remote.ip", "values: [\"192.0.2.9\"]"), .ip("10.0.0.5", remote: "192.0.2.9"), true),
        FieldCase("remote.ip defaults to the source", when("remote.ip", "values: [\"10.0.0.5\"]"), .tcp, true),
        FieldCase("remote.ip notValues", when("remote.ip", "notValues: [\"192.0.2.0/24\"]"), .ip("10.0.0.5", remote: "192.0.2.9"), false),
        FieldCase("destination.ip", when("destination.ip", "values: [\"10.0.1.0/24\"]"), .tcp, true),
        FieldCase("destination.ip other", when("destination.ip", "values: [\"10.0.2.1\"]"), .tcp, false),
        FieldCase("destination.ip notValues", when("destination.ip", "notValues: [\"10.0.1.1\"]"), .tcp, false),
        FieldCase("destination.port", when("destination.port", "values: [\"8000\", \"443\"]"), .port(443), true),
        FieldCase("destination.port other", when("destination.port", "values: [\"8000\"]"), .port(443), false),
        FieldCase("destination.port notValues", when("destination.port", "notValues: [\"8000\"]"), .port(443), true),
        FieldCase("source.namespace", when("source.namespace", "values: [\"default\"]"), .tcp, true),
        FieldCase("source.namespace plaintext", when("source.namespace", "values: [\"default\"]"), .plaintext, false),
        FieldCase("source.namespace notValues", when("source.namespace", "notValues: [\"default\"]"), .tcp, false),
        FieldCase("source.principal suffix", when("source.principal", "values: [\"*/sa/sleep\"]"), .tcp, true),
        FieldCase("source.principal notValues plaintext", when("source.principal", "notValues: [\"*\"]"), .plaintext, true),
        FieldCase("request.headers", when("request.headers[User-Agent]", "values: [\"Mozilla/*\"]"),
                  .http(Fixtures.get(headers: ["user-agent": "Mozilla/5.0"])), true),
        FieldCase("request.headers other value", when("request.headers[User-Agent]", "values: [\"Mozilla/*\"]"),
                  .http(Fixtures.get(headers: ["user-agent": "curl/8"])), false),
        FieldCase("request.headers absent", when("request.headers[x-token]", "values: [\"*\"]"), .http(Fixtures.get()), false),
        FieldCase("request.headers notValues absent", when("request.headers[x-token]", "notValues: [\"bad\"]"),
                  .http(Fixtures.get()), true),
        FieldCase("request.headers notValues", when("request.headers[x-token]", "notValues: [\"bad\"]"),
                  .http(Fixtures.get(headers: ["x-token": "bad"])), false),
        FieldCase("conditions are ANDed",
                  "{when: [{key: source.namespace, values: [default]}, {key: destination.port, values: [\"9\"]}]}", .tcp, false),
    ]

    static let ruleCases: [FieldCase] = [
        FieldCase("an empty rule matches everything", "{}", .plaintext, true),
        FieldCase("from, to and when are ANDed",
                  "{from: [{source: {namespaces: [default]}}], to: [{operation: {ports: [\"9\"]}}]}", .tcp, false),
        FieldCase("from, to and when all match",
                  "{from: [{source: {namespaces: [default]}}], to: [{operation: {ports: [\"8000\"]}}], when: [{key: source.ip, values: [10.0.0.5]}]}",
                  .tcp, true),
    ]

    /// The same rule in an ALLOW policy and in a DENY policy must give opposite answers.
    func check(_ field: FieldCase) throws {
        for action in ["ALLOW", "DENY"] {
            let state = try Fixtures.state(Fixtures.policy("p", "action: \(action)\nrules:\n- \(field.rule)"))
            let request = field.probe.request(in: state)
            let decision = Authorizer(state: state).evaluate(request)
            let expected = action == "ALLOW" ? field.matches : !field.matches
            #expect(decision.allowed == expected, "\(action): \(decision.reason)")
            #expect(LinearScanAuthorizer(state: state).evaluate(request) == decision)
        }
    }

    @Test(arguments: sourceCases) func source(_ field: FieldCase) throws { try check(field) }
    @Test(arguments: operationCases) func operation(_ field: FieldCase) throws { try check(field) }
    @Test(arguments: conditionCases) func condition(_ field: FieldCase) throws { try check(field) }
    @Test(arguments: ruleCases) func rule(_ field: FieldCase) throws { try check(field) }

    @Test func rulesAreORedAndTheFirstMatchIsNamed() throws {
        let state = try Fixtures.state(Fixtures.policy("p", """
        rules:
        - from: [{source: {namespaces: [test]}}]
        - to: [{operation: {ports: ["8000"]}}]
        - {}
        """))
        let decision = Authorizer(state: state).evaluate(Fixtures.request(in: state))
        #expect(decision.allowed)
        #expect(decision.rule == 1)
        #expect(decision.policy == PolicyReference(namespace: "foo", name: "p"))
        #expect(decision.reason == "allowed by ALLOW policy foo/p rule 1")
    }
}
