import FerryMesh
import FerryPolicy
import Testing

/// Route status as a Gateway API controller writes it: Accepted and
/// ResolvedRefs per parent, with the spec's reasons, and PartiallyInvalid.
@Suite struct RouteStatusTests {
    /// Bookinfo plus a Service whose only port is TCP.
    static func statuses(_ traffic: String) throws -> [RouteStatus] {
        let db = """
        apiVersion: v1
        kind: Service
        metadata: {name: db, namespace: demo}
        spec: {clusterIP: 198.19.3.1, ports: [{name: tcp, port: 5432}]}
        """
        return RouteStatus.all(in: try meshState(Bookinfo.yaml + "\n---\n" + db + "\n---\n" + traffic))
    }

    static func route(_ name: String, namespace: String = "demo", parents: String, rules: String = "  - backendRefs: [{name: reviews-v1, port: 9080}]") -> String {
        """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          parentRefs: \(parents)
          rules:
        \(rules)
        """
    }

    func condition(_ status: RouteStatus, _ type: String, parent: Int = 0) -> String {
        guard let condition = status.parents[parent].condition(type) else { return "-" }
        return "\(condition.status) \(condition.reason)"
    }

    @Test func aProducerAndAConsumerRouteAreAcceptedWithTheirScope() throws {
        let all = try Self.statuses(
            Self.route("producer", parents: "[{group: \"\", kind: Service, name: reviews, port: 9080}]") + "\n---\n"
                + Self.route("consumer", namespace: "shop", parents: "[{group: \"\", kind: Service, name: reviews, namespace: demo}]",
                             rules: "  - backendRefs: [{name: reviews-v2, namespace: demo, port: 9080}]"))
        let producer = try #require(all.first { $0.name == "producer" })
        #expect(producer.kind == "HTTPRoute" && producer.file == "test.yaml" && producer.line > 1)
        #expect(producer.parents.map(\.parentRef) == ["Service demo/reviews port 9080"])
        #expect(condition(producer, "Accepted") == "True Accepted" && condition(producer, "ResolvedRefs") == "True ResolvedRefs")
        #expect(producer.parents[0].condition("Accepted")?.message.contains("a producer route: it applies to every client") == true)
        #expect(producer.parents[0].condition("PartiallyInvalid") == nil)
        let consumer = try #require(all.first { $0.name == "consumer" })
        #expect(condition(consumer, "Accepted") == "True Accepted")
        #expect(consumer.parents[0].condition("Accepted")?.message.contains("clients in namespace shop only") == true)
        // GAMMA needs no ReferenceGrant: a backend in another namespace resolves.
        #expect(condition(consumer, "ResolvedRefs") == "True ResolvedRefs")
    }

    struct Parent: Sendable, CustomTestStringConvertible {
        var ref: String
        var reason: String
        var message: String
        var testDescription: String { ref }
    }

    @Test(arguments: [
        Parent(ref: "{name: gateway}", reason: "NoMatchingParent", message: "names a gateway.networking.k8s.io/Gateway"),
        Parent(ref: "{kind: Service, name: reviews}", reason: "NoMatchingParent", message: "write group: \"\""),
        Parent(ref: "{group: \"\", kind: Service, name: nowhere}", reason: "NoMatchingParent", message: "Service demo/nowhere does not exist"),
        Parent(ref: "{group: \"\", kind: Service, name: reviews, port: 81}", reason: "NoMatchingParent", message: "Service demo/reviews has no port 81"),
        Parent(ref: "{group: \"\", kind: Service, name: reviews, sectionName: grpc}", reason: "NoMatchingParent",
               message: "has no port named grpc"),
        Parent(ref: "{group: \"\", kind: Service, name: db}", reason: "NoMatchingParent", message: "port 5432 does not speak HTTP"),
    ])
    func aParentFerryCannotAttachToIsNotAccepted(_ c: Parent) throws {
        let status = try #require(try Self.statuses(Self.route("r", parents: "[\(c.ref), {group: \"\", kind: Service, name: reviews}]")).first)
        let refused = try #require(status.parents[0].condition("Accepted"))
        #expect(!refused.isTrue && refused.reason == c.reason && refused.message.contains(c.message), "\(refused)")
        #expect(condition(status, "Accepted", parent: 1) == "True Accepted", "the route's other parent is unaffected")
    }

    @Test func backendsThatDoNotResolveAreNamedWithTheSpecsReasons() throws {
        let status = try #require(try Self.statuses(Self.route("r", parents: "[{group: \"\", kind: Service, name: reviews}]", rules: """
          - backendRefs:
            - {group: multicluster.x-k8s.io, kind: ServiceImport, name: reviews, port: 9080}
            - {name: reviews-v9, port: 9080, weight: 0}
            - {name: reviews-v1, port: 1234}
            - {name: reviews-v1, port: 9080}
            filters: [{type: RequestMirror, requestMirror: {backendRef: {name: gone, port: 80}}}]
        """)).first)
        let resolved = try #require(status.parents[0].condition("ResolvedRefs"))
        #expect(!resolved.isTrue && resolved.reason == "InvalidKind", "the first failure's reason: \(resolved)")
        for part in ["spec.rules[0].backendRefs[0] names a multicluster.x-k8s.io/ServiceImport",
                     "spec.rules[0].backendRefs[1]: Service demo/reviews-v9 does not exist; it has weight 0",
                     "spec.rules[0].backendRefs[2]: Service demo/reviews-v1 has no port 1234; its share of requests is answered with 500",
                     "Service demo/gone does not exist; nothing is mirrored there"] {
            #expect(resolved.message.contains(part), "\(part) in \(resolved.message)")
        }
        #expect(condition(status, "Accepted") == "True Accepted", "unresolved backends do not unattach a route")
        let missing = try #require(try Self.statuses(Self.route("r", parents: "[{group: \"\", kind: Service, name: reviews}]",
                                                                rules: "  - backendRefs: [{name: reviews-v9, port: 9080}]")).first)
        #expect(condition(missing, "ResolvedRefs") == "False BackendNotFound")
    }

    @Test func someInvalidRulesArePartiallyInvalidAndAllInvalidIsNotAccepted() throws {
        let unsupported = "  - filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Auth, name: a}}]"
        let partial = try #require(try Self.statuses(Self.route("r", parents: "[{group: \"\", kind: Service, name: reviews}]",
                                                                rules: unsupported + "\n  - backendRefs: [{name: reviews-v1, port: 9080}]")).first)
        #expect(condition(partial, "Accepted") == "True Accepted")
        let dropped = try #require(partial.parents[0].condition("PartiallyInvalid"))
        #expect(dropped.isTrue && dropped.reason == "UnsupportedValue")
        #expect(dropped.message.hasPrefix("Dropped Rule 0: test.yaml:") && dropped.message.contains("ExtensionRef is not supported")
                && dropped.message.hasSuffix("requests it matches are answered with 500"), "\(dropped.message)")
        let none = try #require(try Self.statuses(Self.route("r", parents: "[{group: \"\", kind: Service, name: reviews}]",
                                                             rules: unsupported)).first)
        #expect(condition(none, "Accepted") == "False UnsupportedValue")
        #expect(none.parents[0].condition("PartiallyInvalid") == nil, "never set on a fully invalid route")
    }

    @Test func anHTTPRouteLosesThePortsAGRPCRouteTakes() throws {
        let grpc = """
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {name: g, namespace: demo}
        spec:
          parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]
          rules: [{backendRefs: [{name: reviews-v1, port: 9080}]}]
        """
        let all = try Self.statuses(grpc + "\n---\n"
            + Self.route("every-port", parents: "[{group: \"\", kind: Service, name: reviews}]") + "\n---\n"
            + Self.route("one-port", parents: "[{group: \"\", kind: Service, name: reviews, port: 9080}]"))
        let grpcStatus = try #require(all.first { $0.kind == "GRPCRoute" })
        #expect(condition(grpcStatus, "Accepted") == "True Accepted" && condition(grpcStatus, "ResolvedRefs") == "True ResolvedRefs")
        let every = try #require(all.first { $0.name == "every-port" })
        #expect(condition(every, "Accepted") == "True Accepted")
        #expect(every.parents[0].condition("Accepted")?.message.contains("taken from it: port 9080 by GRPCRoute demo/g") == true)
        let one = try #require(all.first { $0.name == "one-port" })
        #expect(condition(one, "Accepted") == "False Conflicted")
    }

    @Test func aRouteKindFerryDoesNotImplementSaysSo() throws {
        let all = try Self.statuses("""
        apiVersion: gateway.networking.k8s.io/v1alpha2
        kind: TCPRoute
        metadata: {name: db, namespace: demo}
        spec:
          parentRefs: [{group: "", kind: Service, name: db, port: 5432}]
          rules: [{backendRefs: [{name: db, port: 5432}]}]
        """)
        let status = try #require(all.first)
        #expect(status.kind == "TCPRoute" && status.line > 1)
        #expect(condition(status, "Accepted") == "False UnsupportedValue")
        #expect(status.parents[0].condition("Accepted")?.message.contains("Ferry does not implement TCPRoute") == true)
    }
}
