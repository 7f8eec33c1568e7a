import FerryMesh
import FerryPolicy
import Testing

/// What a matched rule turns into: backends by weight, filters, timeouts, retries.
@Suite struct RouteDecisionTests {
    @Test func aNinetyTenSplitHoldsWithinOnePercentOverManyPicks() throws {
        let table = try Bookinfo.table(Bookinfo.route("split", rules: """
          - backendRefs:
            - {name: reviews-v1, port: 9080, weight: 90}
            - {name: reviews-v2, port: 9080, weight: 10}
        """))
        var rng = SeededGenerator(seed: 42)
        var counts: [String: Int] = [:]
        let picks = 100_000
        for _ in 0..<picks {
            let decision = table.route(request("/"), service: table.service("reviews"), port: 9080, using: &rng)
            counts[decision?.backend?.service.name ?? "none", default: 0] += 1
        }
        #expect(Set(counts.keys) == ["reviews-v1", "reviews-v2"])
        let v2Share = Double(counts["reviews-v2"]!) / Double(picks)
        #expect(abs(v2Share - 0.10) <= 0.01, "v2 got \(v2Share)")
    }

    @Test func aHeaderMatchedCanaryTakesExactlyTheMarkedRequests() throws {
        let table = try Bookinfo.table(Bookinfo.route("canary", rules: """
          - matches:
            - headers: [{name: x-canary, value: "true"}]
            backendRefs: [{name: reviews-v2, port: 9080}]
          - backendRefs: [{name: reviews-v1, port: 9080}]
        """))
        for seed in 0..<200 as Range<UInt64> {
            let marked = seed % 2 == 0
            let headers = marked ? ["x-canary": "true"] : ["x-canary": "false"]
            let decision = table.decide(request("/reviews/\(seed)", headers: headers), seed: seed)
            #expect(decision?.backend?.service.name == (marked ? "reviews-v2" : "reviews-v1"))
        }
    }

    @Test func weightZeroOrAMissingBackendIsA500() throws {
        let table = try Bookinfo.table(Bookinfo.route("broken", rules: """
          - matches: [{path: {value: /zero}}]
            backendRefs: [{name: reviews-v1, port: 9080, weight: 0}]
          - matches: [{path: {value: /missing}}]
            backendRefs: [{name: reviews-v9, port: 9080}]
          - matches: [{path: {value: /wrong-port}}]
            backendRefs: [{name: reviews-v1, port: 1234}]
        """))
        #expect(table.decide(request("/zero"))?.action == .respond(status: 500, reason: "every backend of the rule has weight 0"))
        #expect(table.decide(request("/missing"))?.action == .respond(status: 500, reason: "backend Service demo/reviews-v9 port 9080 does not exist"))
        #expect(table.decide(request("/wrong-port"))?.action == .respond(status: 500, reason: "backend Service demo/reviews-v1 port 1234 does not exist"))
    }

    @Test func filtersTimeoutsAndRetryAreCarriedOut() throws {
        let table = try Bookinfo.table(Bookinfo.route("full", rules: """
          - matches: [{path: {type: PathPrefix, value: /api/v1}}]
            filters:
            - type: RequestHeaderModifier
              requestHeaderModifier: {set: [{name: x-version, value: v2}], remove: [x-debug]}
            - type: ResponseHeaderModifier
              responseHeaderModifier: {add: [{name: x-served-by, value: ferry}]}
            - type: URLRewrite
              urlRewrite: {hostname: reviews.internal, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
            backendRefs: [{name: reviews-v2, port: 9080}]
            timeouts: {request: 3s, backendRequest: 1s}
            retry: {codes: [503], attempts: 4, backoff: 50ms}
        """))
        let decision = try #require(table.decide(request("/api/v1/items?page=2", authority: "reviews:9080")))
        #expect(decision.path == "/v2/items?page=2")
        #expect(decision.authority == "reviews.internal")
        #expect(decision.requestHeaders == [HeaderModifier(set: [HTTPHeaderField(name: "x-version", value: "v2")], remove: ["x-debug"])])
        #expect(decision.responseHeaders == [HeaderModifier(add: [HTTPHeaderField(name: "x-served-by", value: "ferry")])])
        #expect(decision.timeouts == HTTPRoute.Timeouts(request: .seconds(3), backendRequest: .seconds(1)))
        #expect(decision.retry == RetryPolicy(attempts: 4, codes: [503], backoff: .milliseconds(50)))
    }

    /// Gateway API: a backendRef's filters run "if and only if the request
    /// is being forwarded to the backend defined here", after the rule's.
    @Test func aBackendRefsFiltersApplyOnlyToRequestsSentToIt() throws {
        let table = try Bookinfo.table(Bookinfo.route("per-backend", rules: """
          - matches: [{path: {type: PathPrefix, value: /api}}]
            filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-rule, value: "yes"}]}}]
            backendRefs:
            - name: reviews-v1
              port: 9080
              filters:
              - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-version, value: v1}], remove: [x-rule]}}
              - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: x-served-by, value: v1}]}}
              - {type: URLRewrite, urlRewrite: {hostname: v1.internal, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v1}}}
              - {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 9080}}}
            - {name: reviews-v2, port: 9080}
        """))
        let rule = HeaderModifier(set: [HTTPHeaderField(name: "x-rule", value: "yes")])
        var seen: Set<String> = []
        for seed in 0..<200 as Range<UInt64> {
            let decision = try #require(table.decide(request("/api/items", authority: "reviews:9080"), seed: seed))
            let backend = try #require(decision.backend?.service.name)
            seen.insert(backend)
            if backend == "reviews-v1" {
                #expect(decision.requestHeaders == [rule, HeaderModifier(set: [HTTPHeaderField(name: "x-version", value: "v1")], remove: ["x-rule"])])
                #expect(decision.responseHeaders == [HeaderModifier(add: [HTTPHeaderField(name: "x-served-by", value: "v1")])])
                #expect(decision.path == "/v1/items" && decision.authority == "v1.internal")
                #expect(decision.mirrors.map(\.service.name) == ["shadow"])
            } else {
                #expect(decision.requestHeaders == [rule] && decision.responseHeaders.isEmpty)
                #expect(decision.path == "/api/items" && decision.authority == "reviews:9080" && decision.mirrors.isEmpty)
            }
        }
        #expect(seen == ["reviews-v1", "reviews-v2"])
    }

    /// Gateway API: a backendRef that cannot be resolved gets its share of
    /// requests answered with 500; the rest of the rule keeps working.
    @Test(arguments: [
        ("{name: reviews-v9, port: 9080}", "backend Service demo/reviews-v9 port 9080 does not exist"),
        ("{name: reviews-v1, port: 1234}", "backend Service demo/reviews-v1 port 1234 does not exist"),
        ("{group: multicluster.x-k8s.io, kind: ServiceImport, name: reviews, port: 9080}",
         "backend multicluster.x-k8s.io/ServiceImport demo/reviews port 9080 is not supported: only Services (group \"\") are"),
    ])
    func anUnusableBackendGetsItsShareAnswered500(_ broken: String, reason: String) throws {
        let table = try Bookinfo.table(Bookinfo.route("half", rules: """
          - backendRefs: [\(broken), {name: reviews-v2, port: 9080}]
        """))
        var rng = SeededGenerator(seed: 7)
        var failed = 0
        let picks = 4000
        for _ in 0..<picks {
            let decision = try #require(table.route(request("/"), service: table.service("reviews"), port: 9080, using: &rng))
            switch decision.action {
            case .forward(let backend): #expect(backend.service.name == "reviews-v2")
            case .respond(let status, let why):
                #expect(status == 500 && why == reason)
                failed += 1
            case .redirect: Issue.record("no redirect here")
            }
        }
        #expect(abs(Double(failed) / Double(picks) - 0.5) <= 0.03, "\(failed) of \(picks) answered 500")
    }

    /// A filter Ferry does not implement is never skipped: requests its rule
    /// matches get an error, and the route's other rules keep working.
    @Test func aRuleWithAnUnsupportedFilterAnswersWithAnErrorAndTheOthersWork() throws {
        let table = try Bookinfo.table(Bookinfo.route("guarded", rules: """
          - matches: [{path: {type: PathPrefix, value: /admin}}]
            filters: [{type: ExternalAuth, externalAuth: {protocol: HTTP, backendRef: {name: auth, port: 80}}}]
            backendRefs: [{name: reviews-v1, port: 9080}]
          - backendRefs: [{name: reviews-v2, port: 9080}]
        """))
        let refused = try #require(table.decide(request("/admin/users")))
        guard case .respond(500, let reason) = refused.action else { Issue.record("\(refused.action)"); return }
        #expect(reason.contains("rule 0 of demo/guarded is not supported") && reason.contains("ExternalAuth"), "\(reason)")
        #expect(table.decide(request("/other"))?.backend?.service.name == "reviews-v2")
    }

    /// GEP-1294: mesh routes send to backends in any namespace, no ReferenceGrant.
    @Test func aBackendInAnotherNamespaceNeedsNoReferenceGrant() throws {
        let table = try Bookinfo.table(Bookinfo.route("elsewhere", rules: """
          - backendRefs: [{name: ledger, namespace: finance, port: 80}]
        """) + """

        ---
        apiVersion: v1
        kind: Service
        metadata: {name: ledger, namespace: finance}
        spec: {clusterIP: 198.19.2.1, ports: [{name: http, port: 80}]}
        """)
        #expect(table.decide(request("/"))?.backend?.service.key == "finance/ledger")
    }

    struct Rewrite: Sendable {
        var prefix: String
        var path: String
        var replacement: String
        var expected: String
    }

    /// Gateway API's ReplacePrefixMatch examples: whole segments are replaced.
    @Test(arguments: [
        Rewrite(prefix: "/foo/bar", path: "/foo/bar/baz", replacement: "/xyz", expected: "/xyz/baz"),
        Rewrite(prefix: "/foo", path: "/foo/bar", replacement: "/xyz/", expected: "/xyz/bar"),
        Rewrite(prefix: "/foo/", path: "/foo/bar", replacement: "/xyz", expected: "/xyz/bar"),
        Rewrite(prefix: "/foo", path: "/foo", replacement: "/xyz", expected: "/xyz"),
        Rewrite(prefix: "/foo", path: "/foo/", replacement: "/xyz", expected: "/xyz/"),
        Rewrite(prefix: "/foo", path: "/foo/bar", replacement: "/", expected: "/bar"),
        Rewrite(prefix: "/foo", path: "/foo", replacement: "/", expected: "/"),
        Rewrite(prefix: "/", path: "/foo", replacement: "/xyz", expected: "/xyz/foo"),
        Rewrite(prefix: "/foo", path: "/foo/bar?q=/foo", replacement: "/xyz", expected: "/xyz/bar?q=/foo"),
    ])
    func replacePrefixMatch(_ c: Rewrite) throws {
        let table = try Bookinfo.table(Bookinfo.route("rewrite", rules: """
          - matches: [{path: {type: PathPrefix, value: "\(c.prefix)"}}]
            filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: "\(c.replacement)"}}}]
        """))
        #expect(table.decide(request(c.path))?.path == c.expected)
    }

    @Test func replaceFullPathKeepsTheQuery() throws {
        let table = try Bookinfo.table(Bookinfo.route("rewrite", rules: """
          - filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /health}}}]
        """))
        #expect(table.decide(request("/a/b/c?verbose=1"))?.path == "/health?verbose=1")
        #expect(table.decide(request("/a"))?.path == "/health")
    }

    struct Redirect: Sendable, CustomStringConvertible {
        var filter: String
        var path = "/old/page?id=7"
        var authority = "reviews:9080"
        var status = 302
        var location: String
        var description: String { filter }
    }

    /// Gateway API's port rules: a written port wins; else a written scheme's
    /// well-known port; else the port the request was sent to. Default ports
    /// stay out of the Location.
    @Test(arguments: [
        Redirect(filter: "{}", location: "http://reviews:9080/old/page?id=7"),
        Redirect(filter: "{scheme: https, statusCode: 301}", status: 301, location: "https://reviews/old/page?id=7"),
        Redirect(filter: "{scheme: http}", location: "http://reviews/old/page?id=7"),
        Redirect(filter: "{scheme: https, port: 8443}", location: "https://reviews:8443/old/page?id=7"),
        Redirect(filter: "{port: 80}", location: "http://reviews/old/page?id=7"),
        Redirect(filter: "{hostname: new.example, statusCode: 308}", authority: "Reviews.Demo:9080", status: 308,
                 location: "http://new.example:9080/old/page?id=7"),
        Redirect(filter: "{path: {type: ReplaceFullPath, replaceFullPath: /moved}}", location: "http://reviews:9080/moved?id=7"),
        Redirect(filter: "{path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}", location: "http://reviews:9080/new/page?id=7"),
        Redirect(filter: "{}", authority: "[2001:db8::1]:9080", location: "http://[2001:db8::1]:9080/old/page?id=7"),
    ])
    func requestRedirectAnswersWithALocation(_ c: Redirect) throws {
        let table = try Bookinfo.table(Bookinfo.route("redirect", rules: """
          - matches: [{path: {type: PathPrefix, value: /old}}]
            filters:
            - {type: RequestRedirect, requestRedirect: \(c.filter)}
            - {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 9080}}}
            backendRefs: [{name: reviews-v1, port: 9080}]
        """))
        let decision = try #require(table.decide(request(c.path, authority: c.authority)))
        #expect(decision.action == .redirect(status: c.status, location: c.location))
        #expect(decision.backend == nil && decision.mirrors.isEmpty, "a redirect forwards nothing, not even a copy")
    }

    @Test func mirrorsAreSampledAtTheirFraction() throws {
        let table = try Bookinfo.table(Bookinfo.route("mirror", rules: """
          - filters:
            - {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 9080}, percent: 25}}
            - {type: RequestMirror, requestMirror: {backendRef: {name: ratings, port: 9080}}}
            - {type: RequestMirror, requestMirror: {backendRef: {name: gone, port: 9080}}}
        """))
        var rng = SeededGenerator(seed: 7)
        var shadowed = 0
        let requests = 40_000
        for _ in 0..<requests {
            let mirrors = table.route(request("/"), service: table.service("reviews"), port: 9080, using: &rng)?.mirrors ?? []
            #expect(mirrors.contains { $0.service.name == "ratings" }, "an unsampled mirror always copies")
            #expect(!mirrors.contains { $0.service.name == "gone" }, "a mirror to a missing Service is skipped")
            if mirrors.contains(where: { $0.service.name == "shadow" }) { shadowed += 1 }
        }
        #expect(abs(Double(shadowed) / Double(requests) - 0.25) <= 0.01)
    }

    @Test func theBackendCarriesItsDestinationRule() throws {
        let table = try Bookinfo.table(Bookinfo.route("r", rules: """
          - matches: [{path: {value: /admin}}]
            backendRefs: [{name: reviews-v2, port: 8080}]
          - backendRefs: [{name: reviews-v2, port: 9080}]
        """) + """

        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: v2, namespace: demo}
        spec:
          host: reviews-v2
          trafficPolicy:
            loadBalancer: {simple: ROUND_ROBIN}
            outlierDetection: {consecutive5xxErrors: 3}
            portLevelSettings:
            - port: {number: 8080}
              connectionPool: {http: {http2MaxRequests: 5}}
        """)
        let policy = try #require(table.decide(request("/"))?.backend?.policy)
        #expect(policy.destinationRule == "demo/v2")
        #expect(policy.loadBalancer == .roundRobin)
        #expect(policy.outlierDetection?.consecutive5xxErrors == 3)
        #expect(policy.connectionPool == ConnectionPoolSettings())
        // Port 8080 has its own settings, which replace the rule's policy whole.
        let admin = try #require(table.decide(request("/admin"))?.backend?.policy)
        #expect(admin.destinationRule == "demo/v2")
        #expect(admin.connectionPool.maxRequests == 5)
        #expect(admin.loadBalancer == .istioDefault && admin.outlierDetection == nil)
    }

    @Test func headerModifiersRemoveThenSetThenAdd() {
        var headers = [
            HTTPHeaderField(name: "X-Debug", value: "1"), HTTPHeaderField(name: "x-version", value: "v1"),
            HTTPHeaderField(name: "X-Version", value: "v1b"), HTTPHeaderField(name: "accept", value: "*/*"),
        ]
        HeaderModifier(set: [HTTPHeaderField(name: "X-Version", value: "v2")], add: [HTTPHeaderField(name: "Accept", value: "text/plain")],
                       remove: ["x-debug"]).apply(to: &headers)
        #expect(headers == [
            HTTPHeaderField(name: "accept", value: "*/*"), HTTPHeaderField(name: "X-Version", value: "v2"),
            HTTPHeaderField(name: "Accept", value: "text/plain"),
        ])
    }

    @Test func requestInfoReadsHostAndQuery() {
        #expect(request("/", authority: "Reviews.Demo:9080").host == "reviews.demo")
        #expect(request("/", authority: "[2001:db8::1]:80").host == "[2001:db8::1]")
        #expect(request("/", authority: "2001:db8::1").host == "2001:db8::1")
        #expect(request("/", authority: "ÉCOLE.example").host == "école.example")
        var edited = request("/", authority: "reviews:9080")
        edited.authority = "Ratings.Demo:80"
        #expect(edited.host == "ratings.demo", "the host follows the authority")
        let info = request("/p?a=1&b&a=2&c=x=y")
        #expect(info.pathWithoutQuery == "/p")
        #expect(info.queryParameter("a") == "1", "the first value counts")
        #expect(info.queryParameter("b") == "")
        #expect(info.queryParameter("c") == "x=y")
        #expect(info.queryParameter("d") == nil)
        #expect(request("/p").query == nil)
    }

    @Test func theCacheBuildsOncePerGeneration() throws {
        let cache = HTTPRouteTableCache()
        let first = try meshState(Bookinfo.yaml, generation: 1)
        let second = try meshState(Bookinfo.yaml + "\n---\n" + Bookinfo.route("r", rules: "  - backendRefs: [{name: reviews-v1, port: 9080}]\n"),
                                   generation: 2)
        #expect(cache.table(for: first).generation == 1)
        #expect(cache.table(for: second).generation == 2)
        #expect(cache.table(for: second).decide(request("/"))?.route == "demo/r")
        #expect(cache.table(for: first).generation == 1, "an older snapshot still gets its own table")
    }
}
