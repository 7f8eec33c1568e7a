import FerryMesh
import Testing

@Suite struct GRPCRouteDecodingTests {
    static func route(_ yaml: String) throws -> GRPCRoute {
        guard case .grpcRoute(let route) = try decodeOne(yaml) else { throw ResourceError(file: "", line: 0, message: "not a GRPCRoute") }
        return route
    }

    @Test func everyFieldIsReadAndTyped() throws {
        let route = try Self.route("""
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {name: echo, namespace: demo, creationTimestamp: "2026-01-02T03:04:05Z"}
        spec:
          parentRefs: [{group: "", kind: Service, name: echo, port: 7070}]
          hostnames: [echo.demo]
          rules:
          - name: exact
            matches:
            - method: {service: proto.EchoTestService, method: Echo}
              headers:
              - {name: X-Test-Case, value: set}
              - {name: x-test-case, value: ignored}
              - {name: user, type: RegularExpression, value: "a.*"}
            - method: {method: Ping}
            - method: {type: RegularExpression, service: "proto\\\\..*", method: "E.*"}
            filters:
            - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-header-set, value: v}]}}
            - {type: ResponseHeaderModifier, responseHeaderModifier: {remove: [x-internal]}}
            - {type: RequestMirror, requestMirror: {backendRef: {name: shadow, port: 7070}, percent: 10}}
            backendRefs:
            - name: echo-v1
              port: 7070
              weight: 70
              filters: [{type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: x-backend, value: v1}]}}]
            - {name: echo-v3, namespace: other, port: 7070, weight: 0}
          - backendRefs: [{name: echo, port: 7070}]
        """)
        #expect(route.key == "demo/echo" && route.creationTimestamp == "2026-01-02T03:04:05Z")
        #expect(route.parentRefs == [RouteParentRef(service: ServiceName(name: "echo", namespace: "demo"), port: 7070)])
        #expect(route.hostnames == ["echo.demo"])
        let rule = try #require(route.rules.first)
        #expect(rule.name == "exact")
        #expect(rule.matches[0].method == GRPCMethodMatch(service: .exact("proto.EchoTestService"), method: .exact("Echo")))
        #expect(rule.matches[0].headers.map(\.name) == ["x-test-case", "user"], "the first entry of a name counts, names without case")
        #expect(rule.matches[0].headers[0].value == .exact("set"))
        #expect(rule.matches[1].method == GRPCMethodMatch(method: .exact("Ping")))
        #expect(rule.matches[2].method == GRPCMethodMatch(service: .regularExpression(try CompiledRegex("proto\\..*")),
                                                          method: .regularExpression(try CompiledRegex("E.*"))))
        #expect(rule.filters == [
            .requestHeaderModifier(HeaderModifier(set: [HTTPHeaderField(name: "x-header-set", value: "v")])),
            .responseHeaderModifier(HeaderModifier(remove: ["x-internal"])),
            .requestMirror(RequestMirror(service: ServiceName(name: "shadow", namespace: "demo"), port: 7070, fraction: 0.1)),
        ])
        #expect(rule.backendRefs == [
            RouteBackendRef(service: ServiceName(name: "echo-v1", namespace: "demo"), port: 7070, weight: 70,
                            filters: [.requestHeaderModifier(HeaderModifier(add: [HTTPHeaderField(name: "x-backend", value: "v1")]))]),
            RouteBackendRef(service: ServiceName(name: "echo-v3", namespace: "other"), port: 7070, weight: 0),
        ])
        #expect(route.rules[1].matches == [GRPCRouteMatch()], "no matches is one match of every call")
    }

    @Test func anExtensionRefIsKeptAsTheRulesProblem() throws {
        let route = try Self.route("""
        apiVersion: gateway.networking.k8s.io/v1
        kind: GRPCRoute
        metadata: {name: echo, namespace: demo}
        spec:
          parentRefs: [{group: "", kind: Service, name: echo}]
          rules:
          - filters: [{type: ExtensionRef, extensionRef: {group: example.com, kind: Auth, name: a}}]
        """)
        #expect(route.rules[0].problems.map(\.line) == [7])
        #expect(route.rules[0].problems.first?.message.contains("ExtensionRef is not supported by Ferry (supported: RequestHeaderModifier, RequestMirror, ResponseHeaderModifier)") == true)
    }

    static let parent = "  parentRefs: [{group: \"\", kind: Service, name: echo, port: 7070}]\n"

    static let rejections: [Rejection] = [
        Rejection(name: "v1alpha2", spec: parent, line: 1, message: "expected gateway.networking.k8s.io/v1",
                  apiVersion: "gateway.networking.k8s.io/v1alpha2"),
        Rejection(name: "an HTTPRoute filter", spec: parent + "  rules:\n  - filters:\n    - {type: URLRewrite, urlRewrite: {hostname: a}}\n",
                  line: 8, message: "'URLRewrite' is not a filter type"),
        Rejection(name: "a method match without service or method", spec: parent + "  rules:\n  - matches:\n    - method: {type: Exact}\n",
                  line: 8, message: "give a service, a method or both"),
        Rejection(name: "a method with a slash", spec: parent + "  rules:\n  - matches:\n    - method: {service: a.B, method: \"x/y\"}\n",
                  line: 8, message: "'x/y' is not a valid gRPC method name"),
        Rejection(name: "a service that is not a dotted name", spec: parent + "  rules:\n  - matches:\n    - method: {service: \"a..b\"}\n",
                  line: 8, message: "'a..b' is not a valid gRPC service name"),
        Rejection(name: "a bad regex", spec: parent + "  rules:\n  - matches:\n    - method: {type: RegularExpression, service: \"(\"}\n",
                  line: 8, message: "is not a valid regular expression"),
        Rejection(name: "an unknown match type", spec: parent + "  rules:\n  - matches:\n    - method: {type: Prefix, service: a}\n",
                  line: 8, message: "type 'Prefix' is not one of Exact, RegularExpression"),
        Rejection(name: "a header without a value", spec: parent + "  rules:\n  - matches:\n    - headers: [{name: a}]\n",
                  line: 8, message: "value is required"),
        Rejection(name: "an unknown rule field", spec: parent + "  rules:\n  - timeouts: {request: 1s}\n",
                  line: 7, message: "unknown field 'timeouts' in spec.rules[0]"),
        Rejection(name: "a Service backend without a port", spec: parent + "  rules:\n  - backendRefs: [{name: b}]\n",
                  line: 7, message: "port is required for a Service backend"),
    ]

    @Test(arguments: rejections)
    func rejectedWithFileAndLine(_ rejection: Rejection) throws {
        try rejection.check(kind: "GRPCRoute", apiVersion: "gateway.networking.k8s.io/v1")
    }
}
