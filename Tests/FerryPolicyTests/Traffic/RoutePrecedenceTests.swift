import FerryMesh
import FerryPolicy
import Testing

/// Which rule wins when several match: Gateway API's order, case by case.
@Suite struct RoutePrecedenceTests {
    /// Each rule is named and sends to reviews-v1, so the decision's rule name says who won.
    static func rule(_ name: String, _ match: String) -> String {
        "  - name: \(name)\n    matches:\n    - \(match)\n    backendRefs: [{name: reviews-v1, port: 9080}]\n"
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var routes: [String]
        var request: HTTPRequestInfo
        /// "route/rule", or nil for 404.
        var winner: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "Exact beats a longer PathPrefix", routes: [Bookinfo.route("r", rules:
            rule("prefix", "path: {type: PathPrefix, value: /api/items/all}") + rule("exact", "path: {type: Exact, value: /api/items}"))],
             request: request("/api/items"), winner: "r/exact"),
        Case(name: "the longest PathPrefix wins", routes: [Bookinfo.route("r", rules:
            rule("short", "path: {type: PathPrefix, value: /api}") + rule("long", "path: {type: PathPrefix, value: /api/v2}"))],
             request: request("/api/v2/items"), winner: "r/long"),
        Case(name: "PathPrefix matches whole segments only", routes: [Bookinfo.route("r", rules:
            rule("api", "path: {type: PathPrefix, value: /api}") + rule("root", "path: {type: PathPrefix, value: /}"))],
             request: request("/apiary"), winner: "r/root"),
        Case(name: "a trailing slash in the prefix changes nothing", routes: [Bookinfo.route("r", rules:
            rule("api", "path: {type: PathPrefix, value: /api/}"))],
             request: request("/api"), winner: "r/api"),
        Case(name: "any PathPrefix beats a RegularExpression", routes: [Bookinfo.route("r", rules:
            rule("regex", "path: {type: RegularExpression, value: \"/api/v[0-9]+/.*\"}") + rule("root", "path: {type: PathPrefix, value: /}"))],
             request: request("/api/v2/items"), winner: "r/root"),
        Case(name: "a regex must match the whole path, without the query", routes: [Bookinfo.route("r", rules:
            rule("regex", "path: {type: RegularExpression, value: \"/api/v[0-9]+\"}"))],
             request: request("/api/v2?x=1"), winner: "r/regex"),
        Case(name: "a method match beats header matches", routes: [Bookinfo.route("r", rules:
            rule("headers", "headers: [{name: a, value: \"1\"}, {name: b, value: \"2\"}]") + rule("method", "method: GET"))],
             request: request("/", headers: ["a": "1", "b": "2"]), winner: "r/method"),
        Case(name: "more header matches win", routes: [Bookinfo.route("r", rules:
            rule("one", "headers: [{name: a, value: \"1\"}]") + rule("two", "headers: [{name: a, value: \"1\"}, {name: b, value: \"2\"}]"))],
             request: request("/", headers: ["a": "1", "b": "2"]), winner: "r/two"),
        Case(name: "more query param matches win", routes: [Bookinfo.route("r", rules:
            rule("one", "queryParams: [{name: a, value: \"1\"}]") + rule("two", "queryParams: [{name: a, value: \"1\"}, {name: b, value: \"2\"}]"))],
             request: request("/?a=1&b=2"), winner: "r/two"),
        Case(name: "header matches beat query matches", routes: [Bookinfo.route("r", rules:
            rule("query", "queryParams: [{name: a, value: \"1\"}, {name: b, value: \"2\"}]") + rule("header", "headers: [{name: a, value: \"1\"}]"))],
             request: request("/?a=1&b=2", headers: ["a": "1"]), winner: "r/header"),
        Case(name: "the path outranks method, headers and queries", routes: [Bookinfo.route("r", rules:
            rule("busy", "{path: {value: /api}, method: GET, headers: [{name: a, value: \"1\"}]}") + rule("longer", "path: {value: /api/v1}"))],
             request: request("/api/v1", headers: ["a": "1"]), winner: "r/longer"),
        Case(name: "across routes the oldest wins a tie", routes: [
            Bookinfo.route("a", timestamp: "2026-02-01T00:00:00Z", rules: rule("x", "path: {value: /api}")),
            Bookinfo.route("b", timestamp: "2026-01-01T00:00:00Z", rules: rule("x", "path: {value: /api}")),
        ], request: request("/api"), winner: "b/x"),
        Case(name: "then namespace/name", routes: [
            Bookinfo.route("b", rules: rule("x", "path: {value: /api}")),
            Bookinfo.route("a", rules: rule("x", "path: {value: /api}")),
        ], request: request("/api"), winner: "a/x"),
        Case(name: "within a route the first rule wins a tie", routes: [Bookinfo.route("r", rules:
            rule("first", "path: {value: /api}") + rule("second", "path: {value: /api}"))],
             request: request("/api"), winner: "r/first"),
        Case(name: "a matching exact hostname beats a wildcard and no hostname", routes: [
            Bookinfo.route("any", rules: rule("x", "path: {value: /api/v1}")),
            Bookinfo.route("wild", extra: "  hostnames: [\"*.example.com\"]\n", rules: rule("x", "path: {value: /}")),
            Bookinfo.route("exact", extra: "  hostnames: [reviews.example.com]\n", rules: rule("x", "path: {value: /}")),
        ], request: request("/api/v1", authority: "Reviews.Example.com:9080"), winner: "exact/x"),
        Case(name: "a route whose hostnames do not fit is skipped", routes: [
            Bookinfo.route("other", extra: "  hostnames: [ratings.example.com]\n", rules: rule("x", "path: {value: /api}")),
            Bookinfo.route("any", rules: rule("x", "path: {value: /}")),
        ], request: request("/api", authority: "reviews.example.com"), winner: "any/x"),
        Case(name: "no rule matches: 404", routes: [Bookinfo.route("r", rules: rule("api", "path: {type: Exact, value: /api}"))],
             request: request("/other"), winner: nil),
        Case(name: "a regex header match", routes: [Bookinfo.route("r", rules:
            rule("regex", "headers: [{name: user, type: RegularExpression, value: \"jason|kim\"}]") + rule("root", "path: {value: /}"))],
             request: request("/", headers: ["user": "kim"]), winner: "r/regex"),
    ]

    @Test(arguments: cases)
    func theMostSpecificMatchWins(_ c: Case) throws {
        let table = try Bookinfo.table(c.routes.joined(separator: "\n---\n"))
        let decision = table.decide(c.request)
        if let winner = c.winner {
            let decision = try #require(decision)
            let route = try #require(table.state.httpRoutes.first { $0.key == decision.route })
            #expect("\(route.name)/\(route.rules[decision.ruleIndex!].name ?? "?")" == winner)
        } else {
            #expect(decision == nil)
        }
    }

    @Test func withoutAnHTTPRouteTheServiceItselfIsTheRoute() throws {
        let table = try Bookinfo.table()
        let decision = try #require(table.decide(request("/anything?x=1", authority: "reviews:9080")))
        #expect(decision.route == nil)
        #expect(decision.backend?.service.key == "demo/reviews")
        #expect(decision.backend?.port.port == 9080)
        #expect(decision.path == "/anything?x=1")
        #expect(decision.authority == "reviews:9080")
        #expect(decision.retry == nil)
        #expect(decision.timeouts == HTTPRoute.Timeouts())
        #expect(decision.backend?.policy == ResolvedTrafficPolicy(), "Istio's defaults without a DestinationRule")
    }

    @Test func aRouteBoundToOnePortLeavesTheOtherAlone() throws {
        let table = try Bookinfo.table("""
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: admin-only, namespace: demo}
        spec:
          parentRefs: [{group: "", kind: Service, name: reviews, sectionName: http-admin}]
          rules:
          - backendRefs: [{name: reviews-v2, port: 8080}]
        """)
        #expect(table.decide(request("/"), port: 8080)?.backend?.service.name == "reviews-v2")
        #expect(table.decide(request("/"), port: 9080)?.route == nil, "port 9080 has no route: the default applies")
    }

    @Test func consumerRoutesReplaceProducerRoutesForTheirNamespaceOnly() throws {
        let table = try Bookinfo.table([
            Bookinfo.route("producer", rules: "  - backendRefs: [{name: reviews-v1, port: 9080}]\n"),
            """
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: consumer, namespace: shop}
            spec:
              parentRefs: [{group: "", kind: Service, name: reviews, namespace: demo}]
              rules:
              - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-from, value: shop}]}}]
            """,
        ].joined(separator: "\n---\n"))
        #expect(table.decide(request("/"), clientNamespace: "shop")?.route == "shop/consumer")
        #expect(table.decide(request("/"), clientNamespace: "shop")?.backend?.service.name == "reviews",
                "a rule without backends sends to the parent Service")
        #expect(table.decide(request("/"), clientNamespace: "other")?.route == "demo/producer")
        #expect(table.decide(request("/"), clientNamespace: "demo")?.route == "demo/producer")
        #expect(table.decide(request("/"))?.route == "demo/producer")
    }
}
