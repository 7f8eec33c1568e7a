import FerryMesh
import FerryPolicy
import Testing

/// Examples from Istio's documentation — the AuthorizationPolicy reference
/// (reference/config/security/authorization-policy) and the security concept
/// page (concepts/security, "Authorization") — as users would apply them, with
/// the outcome the documentation states.
@Suite struct IstioExampleTests {
    func authorizer(_ documents: String...) throws -> (Authorizer, MeshState) {
        let state = try Fixtures.state(documents.joined(separator: "\n---\n"))
        return (Authorizer(state: state), state)
    }

    /// Reference: allow `sleep` or namespace `test` to GET /info* or POST /data.
    /// (The documented `when` on a JWT claim is left out: Ferry refuses JWT keys.)
    @Test func allowFromSleepOrTestToInfoAndData() throws {
        let (authorizer, state) = try authorizer(Fixtures.policy("httpbin", """
        action: ALLOW
        rules:
        - from:
          - source:
              principals: ["cluster.local/ns/default/sa/sleep"]
          - source:
              namespaces: ["test"]
          to:
          - operation:
              methods: ["GET"]
              paths: ["/info*"]
          - operation:
              methods: ["POST"]
              paths: ["/data"]
        """))
        let fromTest = "cluster.local/ns/test/sa/any"
        #expect(authorizer.evaluate(Fixtures.request(in: state, http: Fixtures.get("/info"))).allowed)
        #expect(authorizer.evaluate(Fixtures.request(in: state, principal: fromTest, http: Fixtures.http("POST", "/data"))).allowed)
        #expect(!authorizer.evaluate(Fixtures.request(in: state, http: Fixtures.http("POST", "/info"))).allowed)
        #expect(!authorizer.evaluate(Fixtures.request(in: state, http: Fixtures.get("/data"))).allowed)
        #expect(!authorizer.evaluate(Fixtures.request(in: state, principal: "cluster.local/ns/prod/sa/x", http: Fixtures.get("/info"))).allowed)
        #expect(!authorizer.evaluate(Fixtures.request(in: state)).allowed, "plain TCP: the rule uses HTTP fields")
    }

    /// Reference: deny POST from the `dev` namespace to every workload in `foo`.
    @Test func denyPostFromDev() throws {
        let (authorizer, state) = try authorizer(Fixtures.policy("httpbin", """
        action: DENY
        rules:
        - from:
          - source:
              namespaces: ["dev"]
          to:
          - operation:
              methods: ["POST"]
        """))
        let dev = "cluster.local/ns/dev/sa/x"
        #expect(!authorizer.evaluate(Fixtures.request(to: "foo/products", in: state, principal: dev, http: Fixtures.http("POST"))).allowed)
        #expect(authorizer.evaluate(Fixtures.request(in: state, principal: dev, http: Fixtures.get())).allowed)
        #expect(authorizer.evaluate(Fixtures.request(in: state, http: Fixtures.http("POST"))).allowed)
        #expect(authorizer.evaluate(Fixtures.request(to: "bar/httpbin", in: state, principal: dev, http: Fixtures.http("POST"))).allowed)
    }

    /// Reference: deny POST on port 8080; "all TCP traffic on port 8080 would be denied".
    @Test func denyPostOn8080AlsoDeniesTCPOn8080() throws {
        let (authorizer, state) = try authorizer(Fixtures.policy("httpbin", """
        action: DENY
        rules:
        - to:
          - operation:
              methods: ["POST"]
              ports: ["8080"]
        """))
        #expect(!authorizer.evaluate(Fixtures.request(in: state, port: 8080, http: Fixtures.http("POST"))).allowed)
        #expect(authorizer.evaluate(Fixtures.request(in: state, port: 8080, http: Fixtures.get())).allowed)
        #expect(!authorizer.evaluate(Fixtures.request(in: state, port: 8080)).allowed)
        #expect(authorizer.evaluate(Fixtures.request(in: state, port: 9090)).allowed)
    }

    /// Reference: audit GET /user/profile/* on `app: myapi`.
    @Test func auditUserProfile() throws {
        let (authorizer, state) = try authorizer(Fixtures.policy("anyname", """
        selector:
          matchLabels:
            app: httpbin
        action: AUDIT
        rules:
        - to:
          - operation:
              methods: ["GET"]
              paths: ["/user/profile/*"]
        """))
        let audited = authorizer.evaluate(Fixtures.request(in: state, http: Fixtures.get("/user/profile/42")))
        #expect(audited.allowed)
        #expect(audited.auditPolicies.map(\.description) == ["foo/anyname"])
        #expect(authorizer.evaluate(Fixtures.request(in: state, http: Fixtures.get("/user"))).auditPolicies.isEmpty)
    }

    /// Reference: allow-nothing in `foo`, allow-all in `foo`, allow-nothing for `app: httpbin` in `bar`.
    @Test func allowNothingAndAllowAll() throws {
        let (nothing, state) = try authorizer(Fixtures.policy("allow-nothing", "{}"))
        #expect(!nothing.evaluate(Fixtures.request(in: state)).allowed)
        #expect(!nothing.evaluate(Fixtures.request(to: "foo/products", in: state)).allowed)
        #expect(nothing.evaluate(Fixtures.request(to: "bar/httpbin", in: state)).allowed)

        let (all, allState) = try authorizer(Fixtures.policy("allow-all", "rules:\n- {}"))
        #expect(all.evaluate(Fixtures.request(in: allState, principal: nil)).allowed)

        let (selected, barState) = try authorizer(Fixtures.policy("allow-nothing", namespace: "bar", """
        selector:
          matchLabels:
            app: httpbin
        """))
        #expect(!selected.evaluate(Fixtures.request(to: "bar/httpbin", in: barState)).allowed)
        #expect(selected.evaluate(Fixtures.request(in: barState)).allowed)
    }

    /// Concept page: deny requests whose source is not the `foo` namespace.
    @Test func denyFromOutsideFoo() throws {
        let (authorizer, state) = try authorizer(Fixtures.policy("httpbin-deny", """
        selector:
          matchLabels:
            app: httpbin
            version: v1
        action: DENY
        rules:
        - from:
          - source:
              notNamespaces: ["foo"]
        """))
        #expect(authorizer.evaluate(Fixtures.request(in: state, principal: "cluster.local/ns/foo/sa/a")).allowed)
        #expect(!authorizer.evaluate(Fixtures.request(in: state)).allowed)
        // A plaintext peer has no namespace, so it is "not foo" too.
        #expect(!authorizer.evaluate(Fixtures.request(in: state, principal: nil)).allowed)
    }

    /// Concept page: `allow-read` (GET and HEAD on `app: products`) and `tester` (paths /test/* or */info).
    @Test func allowReadAndTester() throws {
        let (authorizer, state) = try authorizer(
            Fixtures.policy("allow-read", """
            selector:
              matchLabels:
                app: products
            action: ALLOW
            rules:
            - to:
              - operation:
                  methods: ["GET", "HEAD"]
            """),
            Fixtures.policy("tester", """
            selector:
              matchLabels:
                app: products
            action: ALLOW
            rules:
            - to:
              - operation:
                  paths: ["/test/*", "*/info"]
            """))
        func allowed(_ http: HTTPRequestAttributes) -> Bool {
            authorizer.evaluate(Fixtures.request(to: "foo/products", in: state, http: http)).allowed
        }
        #expect(allowed(Fixtures.http("HEAD", "/x")))
        #expect(allowed(Fixtures.http("POST", "/test/a")))
        #expect(allowed(Fixtures.http("PUT", "/a/info")))
        #expect(!allowed(Fixtures.http("POST", "/a/b")))
    }

    /// Concept page: a `when` on `request.headers[version]`, from `sleep`, GET only.
    @Test func customConditionOnAHeader() throws {
        let (authorizer, state) = try authorizer(Fixtures.policy("httpbin", """
        selector:
          matchLabels:
            app: httpbin
            version: v1
        action: ALLOW
        rules:
        - from:
          - source:
              principals: ["cluster.local/ns/default/sa/sleep"]
          to:
          - operation:
              methods: ["GET"]
          when:
          - key: request.headers[version]
            values: ["v1", "v2"]
        """))
        #expect(authorizer.evaluate(Fixtures.request(in: state, http: Fixtures.get(headers: ["version": "v2"]))).allowed)
        #expect(!authorizer.evaluate(Fixtures.request(in: state, http: Fixtures.get(headers: ["version": "v3"]))).allowed)
        #expect(!authorizer.evaluate(Fixtures.request(in: state, http: Fixtures.get())).allowed)
    }

    /// Concept page: no `source` admits everyone; `principals: ["*"]` only authenticated peers.
    @Test func authenticatedAndUnauthenticated() throws {
        let rule = "rules:\n- to:\n  - operation:\n      methods: [\"GET\", \"POST\"]"
        let (anyone, state) = try authorizer(Fixtures.policy("httpbin", rule))
        #expect(anyone.evaluate(Fixtures.request(in: state, principal: nil, http: Fixtures.get())).allowed)

        let (authenticated, authState) = try authorizer(Fixtures.policy("httpbin", """
        rules:
        - from:
          - source:
              principals: ["*"]
          to:
          - operation:
              methods: ["GET", "POST"]
        """))
        #expect(!authenticated.evaluate(Fixtures.request(in: authState, principal: nil, http: Fixtures.get())).allowed)
        #expect(authenticated.evaluate(Fixtures.request(in: authState, http: Fixtures.get())).allowed)
    }

    /// Concept page: only `bookinfo-ratings-v2` may reach MongoDB on 27017 (TCP).
    @Test func mongoDBOverTCP() throws {
        let (authorizer, state) = try authorizer(Fixtures.policy("mongodb-policy", namespace: "foo", """
        selector:
          matchLabels:
            app: products
        action: ALLOW
        rules:
        - from:
          - source:
              principals: ["cluster.local/ns/default/sa/bookinfo-ratings-v2"]
          to:
          - operation:
              ports: ["27017"]
        """))
        let ratings = "cluster.local/ns/default/sa/bookinfo-ratings-v2"
        #expect(authorizer.evaluate(Fixtures.request(to: "foo/products", in: state, port: 27017, principal: ratings)).allowed)
        #expect(!authorizer.evaluate(Fixtures.request(to: "foo/products", in: state, port: 27017)).allowed)
        #expect(!authorizer.evaluate(Fixtures.request(to: "foo/products", in: state, port: 27018, principal: ratings)).allowed)
    }

    /// Security best practice: deny plaintext with `notPrincipals: ["*"]`.
    @Test func denyPlaintext() throws {
        let (authorizer, state) = try authorizer(Fixtures.policy("require-mtls", namespace: "istio-system", """
        action: DENY
        rules:
        - from:
          - source:
              notPrincipals: ["*"]
        """))
        #expect(!authorizer.evaluate(Fixtures.request(to: "bar/httpbin", in: state, principal: nil)).allowed)
        #expect(authorizer.evaluate(Fixtures.request(to: "bar/httpbin", in: state)).allowed)
    }
}
