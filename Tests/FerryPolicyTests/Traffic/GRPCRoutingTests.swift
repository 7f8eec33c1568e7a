import FerryMesh
import FerryPolicy
import Testing

/// GRPCRoute decisions: service and method matches, precedence, weights,
/// errors as gRPC clients read them, and GEP-1294's rule that a GRPCRoute
/// takes a Service port from HTTPRoutes.
@Suite struct GRPCRoutingTests {
    static func grpcRoute(_ name: String, namespace: String = "demo", port: String = ", port: 9080", timestamp: String? = nil,
                          rules: String) -> String {
        let stamp = timestamp.map { ", creationTimestamp: \"\($0)\"" } ?? ""
        return """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {name: \(name), namespace: \(namespace)\(stamp)}
        spec:
          parentRefs: [{group: "", kind: Service, name: reviews, namespace: demo\(port)}]
          rules:
        \(rules)
        """
    }

    static func call(_ service: String, _ method: String, headers: [String: String] = [:]) -> HTTPRequestInfo {
        request("/\(service)/\(method)", method: "POST", authority: "reviews:9080",
                headers: headers.merging(["content-type": "application/grpc"]) { a, _ in a })
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var call: HTTPRequestInfo
        var backend: String?
        var testDescription: String { "\(call.path) \(call.headers.filter { $0.key != "content-type" }) → \(backend ?? "no rule")" }
    }

    /// Gateway API GRPCRouteRule precedence: most characters in a matching
    /// service, then in a matching method, then most header matches.
    @Test(arguments: [
        Case(call: call("shop.Cart", "Add"), backend: "reviews-v1"),
        Case(call: call("shop.Cart", "Remove"), backend: "reviews-v2"),
        Case(call: call("shop.Cart", "Remove", headers: ["x-tier": "gold"]), backend: "reviews-v2"),
        Case(call: call("shop.Cart", "Add", headers: ["x-tier": "gold"]), backend: "reviews-v3"),
        Case(call: call("shop.Orders", "Add"), backend: "shadow"),
        Case(call: call("shop.Orders", "Append"), backend: "ratings"),
        Case(call: call("other.Service", "Add"), backend: "shadow"),
        Case(call: call("other.Service", "Get"), backend: nil),
        Case(call: request("/not-a-grpc-path", method: "POST"), backend: nil),
    ])
    func methodAndHeaderMatchesInPrecedenceOrder(_ c: Case) throws {
        let table = try Bookinfo.table(Self.grpcRoute("shop", rules: """
          - matches: [{method: {method: Add}}]
            backendRefs: [{name: shadow, port: 9080}]
          - matches: [{method: {type: RegularExpression, service: "shop\\\\..*", method: "A.*"}}]
            backendRefs: [{name: ratings, port: 9080}]
          - matches: [{method: {service: shop.Cart}}]
            backendRefs: [{name: reviews-v2, port: 9080}]
          - matches: [{method: {service: shop.Cart, method: Add}}]
            backendRefs: [{name: reviews-v1, port: 9080}]
          - matches: [{method: {service: shop.Cart, method: Add}, headers: [{name: X-Tier, value: gold}]}]
            backendRefs: [{name: reviews-v3, port: 9080}]
        """))
        let decision = table.decide(c.call)
        if let backend = c.backend {
            #expect(decision?.backend?.service.name == backend, "\(String(describing: decision?.action))")
        } else {
            #expect(decision == nil, "no rule matches: 404, which a gRPC client reads as UNIMPLEMENTED")
        }
    }

    @Test func aSeventyThirtySplitWithAWeightZeroBackendThatDoesNotExist() throws {
        let table = try Bookinfo.table(Self.grpcRoute("weights", rules: """
          - backendRefs: [{name: reviews-v1, port: 9080, weight: 70}, {name: reviews-v2, port: 9080, weight: 30}, {name: reviews-v9, port: 9080, weight: 0}]
        """))
        var rng = SeededGenerator(seed: 3)
        var counts: [String: Int] = [:]
        for _ in 0..<10_000 {
            let decision = table.route(Self.call("a.B", "C"), service: table.service("reviews"), port: 9080, using: &rng)
            counts[decision?.backend?.service.name ?? "none", default: 0] += 1
        }
        #expect(Set(counts.keys) == ["reviews-v1", "reviews-v2"])
        #expect(abs(Double(counts["reviews-v1"]!) / 10_000 - 0.7) <= 0.02, "\(counts)")
    }

    /// Gateway API asks UNAVAILABLE for a GRPCRoute's unusable backend: a 503
    /// is what gRPC clients map to it.
    @Test func anUnusableBackendIsUnavailableToAGRPCClient() throws {
        let table = try Bookinfo.table(Self.grpcRoute("broken", rules: "  - backendRefs: [{name: reviews-v9, port: 9080}]"))
        #expect(table.decide(Self.call("a.B", "C"))?.action == .respond(status: 503, reason: "backend Service demo/reviews-v9 port 9080 does not exist"))
    }

    @Test func filtersOfTheRuleAndOfTheChosenBackend() throws {
        let table = try Bookinfo.table(Self.grpcRoute("filters", rules: """
          - filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-rule, value: "1"}]}}]
            backendRefs:
            - name: reviews-v1
              port: 9080
              filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: x-backend, value: v1}]}}]
        """))
        let decision = try #require(table.decide(Self.call("a.B", "C")))
        #expect(decision.requestHeaders == [HeaderModifier(add: [HTTPHeaderField(name: "x-rule", value: "1")])])
        #expect(decision.responseHeaders == [HeaderModifier(set: [HTTPHeaderField(name: "x-backend", value: "v1")])])
        #expect(decision.route == "demo/filters" && decision.ruleIndex == 0)
    }

    /// GEP-1294: one route kind per Service port, GRPCRoute first. An
    /// HTTPRoute on every port keeps the ports no GRPCRoute names.
    @Test func aGRPCRouteTakesItsPortFromHTTPRoutes() throws {
        let table = try Bookinfo.table(Bookinfo.route("http", rules: "  - backendRefs: [{name: reviews-v2, port: 9080}]") + "\n---\n"
            + Self.grpcRoute("grpc", rules: "  - backendRefs: [{name: reviews-v1, port: 9080}]"))
        #expect(table.decide(Self.call("a.B", "C"))?.backend?.service.name == "reviews-v1")
        #expect(table.decide(request("/page"))?.backend?.service.name == "reviews-v1", "every request on the port, gRPC or not")
        #expect(table.decide(request("/page"), port: 8080)?.backend?.service.name == "reviews-v2", "the HTTPRoute keeps port 8080")
    }

    /// A consumer GRPCRoute replaces the producer routes for its namespace only.
    @Test func consumerGRPCRoutesApplyToTheirNamespace() throws {
        let table = try Bookinfo.table(Self.grpcRoute("producer", rules: "  - backendRefs: [{name: reviews-v1, port: 9080}]") + "\n---\n"
            + Self.grpcRoute("consumer", namespace: "shop", rules: "  - backendRefs: [{name: reviews-v2, namespace: demo, port: 9080}]"))
        #expect(table.decide(Self.call("a.B", "C"), clientNamespace: "shop")?.backend?.service.name == "reviews-v2")
        #expect(table.decide(Self.call("a.B", "C"), clientNamespace: "other")?.backend?.service.name == "reviews-v1")
        #expect(table.decide(Self.call("a.B", "C"), clientNamespace: "demo")?.backend?.service.name == "reviews-v1")
    }
}
