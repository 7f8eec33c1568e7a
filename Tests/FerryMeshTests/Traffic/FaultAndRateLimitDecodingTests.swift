import FerryMesh
import Testing

@Suite struct VirtualServiceFaultDecodingTests {
    static func faults(_ spec: String, apiVersion: String = "networking.istio.io/v1") throws -> VirtualServiceFaults {
        let yaml = "apiVersion: \(apiVersion)\nkind: VirtualService\nmetadata: {name: r, namespace: demo}\nspec:\n" + spec
        guard case .virtualService(let faults) = try decodeOne(yaml) else { throw ResourceError(file: "", line: 0, message: "not a VirtualService") }
        return faults
    }

    @Test func faultsWithMatchesAndTheRouteIstioRequires() throws {
        let faults = try Self.faults("""
          hosts: [ratings, reviews.demo.svc.cluster.local]
          gateways: [mesh]
          http:
          - name: jason
            match:
            - headers:
                End-User: {exact: jason}
                x-trace: {regex: "[0-9]+"}
              uri: {prefix: /ratings}
            fault:
              delay: {fixedDelay: 7s, percentage: {value: 12.5}}
              abort: {httpStatus: 503, percent: 10}
            route:
            - destination: {host: ratings}
          - fault:
              abort:
                httpStatus: 500
                percentage: {value: 100}
        """)
        #expect(faults.hosts.map(\.key) == ["demo/ratings", "demo/reviews"])
        #expect(faults.rules.count == 2)
        let first = faults.rules[0]
        #expect(first.name == "jason")
        #expect(first.matches == [FaultMatch(uri: .prefix("/ratings"), headers: [
            NamedValueMatch(name: "end-user", value: .exact("jason")),
            NamedValueMatch(name: "x-trace", value: .regularExpression(try CompiledRegex("[0-9]+"))),
        ])])
        #expect(first.delay == FaultDelay(fixedDelay: .seconds(7), percentage: 12.5))
        #expect(first.abort == FaultAbort(httpStatus: 503, percentage: 10))
        #expect(faults.rules[1].matches.isEmpty)
        #expect(faults.rules[1].abort == FaultAbort(httpStatus: 500, percentage: 100))
        #expect(faults.rules[1].delay == nil)
    }

    static let fault = "    fault: {abort: {httpStatus: 503, percentage: {value: 5}}}\n"

    static let rejections: [Rejection] = [
        Rejection(name: "route to another host", spec: "  hosts: [ratings]\n  http:\n  - route:\n    - destination: {host: reviews}\n", line: 8,
                  message: "only fault injection is supported; use HTTPRoute for routing"),
        Rejection(name: "route to a subset", spec: "  hosts: [ratings]\n  http:\n  - route:\n    - destination: {host: ratings, subset: v2}\n",
                  line: 8, message: "only fault injection is supported; use HTTPRoute for routing"),
        Rejection(name: "weighted routes", spec: "  hosts: [ratings]\n  http:\n  - route:\n    - destination: {host: ratings}\n      weight: 50\n    - destination: {host: ratings}\n      weight: 50\n",
                  line: 7, message: "only fault injection is supported"),
        Rejection(name: "rewrite", spec: "  hosts: [ratings]\n  http:\n  - rewrite: {uri: /v2}\n", line: 7,
                  message: "spec.http[0].rewrite is not supported: only fault injection is supported; use HTTPRoute for routing"),
        Rejection(name: "retries", spec: "  hosts: [ratings]\n  http:\n  - retries: {attempts: 3}\n", line: 7,
                  message: "only fault injection is supported; use HTTPRoute for routing"),
        Rejection(name: "tcp routes", spec: "  hosts: [ratings]\n  tcp: []\n", line: 6, message: "spec.tcp is not supported: only fault injection"),
        Rejection(name: "missing percentage", spec: "  hosts: [ratings]\n  http:\n  - fault:\n      abort:\n        httpStatus: 503\n", line: 9,
                  message: "abort.percentage is required"),
        Rejection(name: "percentage over 100", spec: "  hosts: [ratings]\n  http:\n  - fault:\n      delay:\n        fixedDelay: 1s\n        percentage: {value: 120}\n",
                  line: 10, message: "120.0 is not within 0-100"),
        Rejection(name: "bad status", spec: "  hosts: [ratings]\n  http:\n  - fault:\n      abort: {httpStatus: 700, percentage: {value: 1}}\n", line: 8,
                  message: "httpStatus: 700 is out of range (200-599)"),
        Rejection(name: "bad delay", spec: "  hosts: [ratings]\n  http:\n  - fault:\n      delay: {fixedDelay: 5, percentage: {value: 1}}\n", line: 8,
                  message: "fixedDelay: '5' is not a duration"),
        Rejection(name: "empty fault", spec: "  hosts: [ratings]\n  http:\n  - fault: {}\n", line: 7, message: "fault needs delay or abort"),
        Rejection(name: "bad header regex", spec: "  hosts: [ratings]\n  http:\n  - match:\n    - headers:\n        x: {regex: \"(\"}\n" + fault,
                  line: 9, message: "'(' is not a valid regular expression"),
        Rejection(name: "unsupported match field", spec: "  hosts: [ratings]\n  http:\n  - match:\n    - method: {exact: GET}\n" + fault,
                  line: 8, message: "method is not supported: fault matches support uri and headers"),
        Rejection(name: "two string matches", spec: "  hosts: [ratings]\n  http:\n  - match:\n    - uri: {exact: /a, prefix: /b}\n" + fault,
                  line: 8, message: "needs exactly one of exact, prefix, regex"),
        Rejection(name: "external host", spec: "  hosts: [example.com]\n", line: 5, message: "'example.com' does not name a Service"),
        Rejection(name: "no hosts", spec: "  http: []\n", line: 5, message: "spec.hosts is required"),
        Rejection(name: "gateways", spec: "  hosts: [ratings]\n  gateways: [istio-system/ingress]\n", line: 6, message: "Ferry has no gateways"),
        Rejection(name: "grpc abort", spec: "  hosts: [ratings]\n  http:\n  - fault:\n      abort:\n        grpcStatus: UNAVAILABLE\n", line: 9,
                  message: "grpcStatus is not supported"),
        Rejection(name: "wrong apiVersion", spec: "  hosts: [ratings]\n", line: 1, message: "expected networking.istio.io/v1",
                  apiVersion: "networking.istio.io/v2"),
    ]

    @Test(arguments: rejections)
    func rejectedWithFileAndLine(_ rejection: Rejection) throws {
        try rejection.check(kind: "VirtualService", apiVersion: "networking.istio.io/v1")
    }
}

@Suite struct RateLimitDecodingTests {
    static func limit(_ spec: String) throws -> RateLimit {
        let yaml = "apiVersion: ferry.dev/v1alpha1\nkind: RateLimit\nmetadata: {name: r, namespace: demo}\nspec:\n" + spec
        guard case .rateLimit(let limit) = try decodeOne(yaml) else { throw ResourceError(file: "", line: 0, message: "not a RateLimit") }
        return limit
    }

    @Test func burstDefaultsToTheRate() throws {
        let limit = try Self.limit("  targetRef: {kind: Service, name: echo}\n  requestsPerSecond: 50\n")
        #expect(limit.target == .service("echo"))
        #expect(limit.targetKey == "demo/echo")
        #expect(limit.requestsPerSecond == 50)
        #expect(limit.burst == 50)
    }

    @Test(arguments: ["Workload", "WorkloadEntry", "Pod"])
    func workloadTargets(kind: String) throws {
        let limit = try Self.limit("  targetRef: {kind: \(kind), name: echo-1}\n  requestsPerSecond: 5\n  burst: 20\n")
        #expect(limit.target == .workload("echo-1"))
        #expect(limit.burst == 20)
    }

    static let rejections: [Rejection] = [
        Rejection(name: "unknown target kind", spec: "  targetRef: {kind: Deployment, name: d}\n  requestsPerSecond: 5\n", line: 5,
                  message: "spec.targetRef.kind 'Deployment' is not one of Service, Workload, WorkloadEntry, Pod"),
        Rejection(name: "no rate", spec: "  targetRef: {kind: Service, name: s}\n", line: 5, message: "spec.requestsPerSecond is required"),
        Rejection(name: "zero rate", spec: "  targetRef: {kind: Service, name: s}\n  requestsPerSecond: 0\n", line: 6,
                  message: "requestsPerSecond: 0 is out of range"),
        Rejection(name: "zero burst", spec: "  targetRef: {kind: Service, name: s}\n  requestsPerSecond: 1\n  burst: 0\n", line: 7,
                  message: "burst: 0 is out of range"),
        Rejection(name: "unknown field", spec: "  targetRef: {kind: Service, name: s}\n  rps: 1\n", line: 6, message: "unknown field 'rps'"),
        Rejection(name: "target in another namespace", spec: "  targetRef: {kind: Service, name: s, namespace: other}\n  requestsPerSecond: 1\n",
                  line: 5, message: "unknown field 'namespace'"),
        Rejection(name: "no target", spec: "  requestsPerSecond: 1\n", line: 5, message: "spec.targetRef is required"),
        Rejection(name: "wrong apiVersion", spec: "  requestsPerSecond: 1\n", line: 1, message: "expected ferry.dev/v1alpha1",
                  apiVersion: "ferry.dev/v1"),
    ]

    @Test(arguments: rejections)
    func rejectedWithFileAndLine(_ rejection: Rejection) throws {
        try rejection.check(kind: "RateLimit", apiVersion: "ferry.dev/v1alpha1")
    }
}
