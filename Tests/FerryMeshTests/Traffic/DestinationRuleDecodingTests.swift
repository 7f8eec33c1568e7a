import FerryMesh
import Testing

@Suite struct DestinationRuleDecodingTests {
    static func rule(_ spec: String, apiVersion: String = "networking.istio.io/v1") throws -> DestinationRule {
        let yaml = "apiVersion: \(apiVersion)\nkind: DestinationRule\nmetadata: {name: r, namespace: demo}\nspec:\n" + spec
        guard case .destinationRule(let rule) = try decodeOne(yaml) else { throw ResourceError(file: "", line: 0, message: "not a DestinationRule") }
        return rule
    }

    @Test func everyFieldIsReadAndTyped() throws {
        let rule = try Self.rule("""
          host: reviews
          trafficPolicy:
            loadBalancer:
              consistentHash: {httpHeaderName: X-User, ringHash: {minimumRingSize: 2048}}
            connectionPool:
              tcp: {maxConnections: 100, connectTimeout: 250ms}
              http: {http1MaxPendingRequests: 10, http2MaxRequests: 50, maxRequestsPerConnection: 5, maxRetries: 3}
            outlierDetection:
              consecutive5xxErrors: 7
              consecutiveGatewayErrors: 2
              interval: 5s
              baseEjectionTime: 1m
              maxEjectionPercent: 50
              minHealthPercent: 20
            tls: {mode: ISTIO_MUTUAL}
            portLevelSettings:
            - port: {number: 8080}
              loadBalancer: {simple: RANDOM}
              tls: {mode: ISTIO_MUTUAL}
          subsets:
          - name: v1
            labels: {version: v1}
          - name: v2
            labels: {version: v2}
            trafficPolicy:
              loadBalancer: {simple: ROUND_ROBIN}
              portLevelSettings:
              - port: {number: 9443}
                connectionPool: {tcp: {maxConnections: 1}}
        """)
        #expect(rule.host == ServiceName(name: "reviews", namespace: "demo"))
        let policy = rule.trafficPolicy
        #expect(policy.loadBalancer == .consistentHash(ConsistentHashSettings(key: .header("x-user"), minimumRingSize: 2048)))
        #expect(policy.connectionPool == ConnectionPoolSettings(maxConnections: 100, connectTimeout: .milliseconds(250),
                                                                maxPendingRequests: 10, maxRequests: 50,
                                                                maxRequestsPerConnection: 5, maxRetries: 3))
        #expect(policy.outlierDetection == OutlierDetectionSettings(consecutive5xxErrors: 7, consecutiveGatewayErrors: 2,
                                                                    interval: .seconds(5), baseEjectionTime: .seconds(60),
                                                                    maxEjectionPercent: 50, minHealthPercent: 20))
        #expect(rule.subsets.map(\.name) == ["v1", "v2"])
        #expect(rule.subsets[1].labels == ["version": "v2"])
        // A port's settings replace the whole policy: what they leave out is Istio's default.
        #expect(policy.portLevelSettings == [8080: TrafficPolicy(loadBalancer: .random)])
        #expect(policy.forPort(8080) == TrafficPolicy(loadBalancer: .random))
        #expect(policy.forPort(9080) == TrafficPolicy(loadBalancer: policy.loadBalancer, connectionPool: policy.connectionPool,
                                                      outlierDetection: policy.outlierDetection))
        // A subset overrides the sections it writes and inherits the rest.
        let v2 = try #require(rule.trafficPolicy(forSubset: "v2", port: 9080))
        #expect(v2.loadBalancer == .roundRobin)
        #expect(v2.connectionPool == policy.connectionPool)
        #expect(rule.trafficPolicy(forSubset: "v2", port: 8080) == TrafficPolicy(loadBalancer: .roundRobin))
        #expect(rule.trafficPolicy(forSubset: "v2", port: 9443) == TrafficPolicy(connectionPool: ConnectionPoolSettings(maxConnections: 1)))
        #expect(rule.trafficPolicy(forSubset: "v1", port: 9080) == policy.forPort(9080))
        #expect(rule.trafficPolicy(forSubset: "v9", port: 9080) == nil)
    }

    @Test(arguments: ["networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3"])
    func istioDefaultsForWhatIsNotWritten(apiVersion: String) throws {
        let rule = try Self.rule("""
          host: reviews.prod.svc.cluster.local
          trafficPolicy:
            connectionPool:
              tcp: {maxConnections: 0}
              http: {maxRetries: 0}
            outlierDetection: {}
        """, apiVersion: apiVersion)
        #expect(rule.host.key == "prod/reviews")
        #expect(rule.trafficPolicy.loadBalancer == nil)
        // Istio reads 0 as unset: the default (2^32-1) applies.
        #expect(rule.trafficPolicy.connectionPool == ConnectionPoolSettings())
        #expect(rule.trafficPolicy.connectionPool?.maxRetries == Int(UInt32.max))
        #expect(rule.trafficPolicy.connectionPool?.connectTimeout == .seconds(10))
        let outlier = try #require(rule.trafficPolicy.outlierDetection)
        #expect(outlier.consecutive5xxErrors == 5)
        #expect(outlier.consecutiveGatewayErrors == 0)
        #expect(outlier.interval == .seconds(10))
        #expect(outlier.baseEjectionTime == .seconds(30))
        #expect(outlier.maxEjectionPercent == 10)
    }

    @Test(arguments: [("ROUND_ROBIN", LoadBalancerSettings.roundRobin), ("LEAST_REQUEST", .leastRequest), ("LEAST_CONN", .leastRequest),
                      ("RANDOM", .random)])
    func simpleLoadBalancers(name: String, expected: LoadBalancerSettings) throws {
        let rule = try Self.rule("  host: a\n  trafficPolicy:\n    loadBalancer: {simple: \(name)}\n")
        #expect(rule.trafficPolicy.loadBalancer == expected)
    }

    @Test func consistentHashOnSourceIPWithTheDefaultRing() throws {
        let rule = try Self.rule("  host: a\n  trafficPolicy:\n    loadBalancer:\n      consistentHash: {useSourceIp: true}\n")
        #expect(rule.trafficPolicy.loadBalancer == .consistentHash(ConsistentHashSettings(key: .sourceIP, minimumRingSize: 1024)))
    }

    static let rejections: [Rejection] = [
        Rejection(name: "PASSTHROUGH", spec: "  host: a\n  trafficPolicy:\n    loadBalancer:\n      simple: PASSTHROUGH\n", line: 8,
                  message: "PASSTHROUGH is not supported"),
        Rejection(name: "unknown load balancer", spec: "  host: a\n  trafficPolicy:\n    loadBalancer: {simple: FASTEST}\n", line: 7,
                  message: "'FASTEST' is not one of"),
        Rejection(name: "unknown field", spec: "  host: a\n  trafficPolicy:\n    outlierDetection:\n      consecutive5xx: 3\n", line: 8,
                  message: "unknown field 'consecutive5xx' in spec.trafficPolicy.outlierDetection"),
        Rejection(name: "bad duration", spec: "  host: a\n  trafficPolicy:\n    outlierDetection:\n      interval: soon\n", line: 8,
                  message: "interval: 'soon' is not a duration"),
        Rejection(name: "duration under 1ms", spec: "  host: a\n  trafficPolicy:\n    outlierDetection:\n      baseEjectionTime: 10us\n", line: 8,
                  message: "must be at least 1ms"),
        Rejection(name: "wrong apiVersion", spec: "  host: a\n", line: 1,
                  message: "DestinationRule has apiVersion 'security.istio.io/v1'", apiVersion: "security.istio.io/v1"),
        Rejection(name: "no host", spec: "  trafficPolicy: {}\n", line: 5, message: "spec.host is required"),
        Rejection(name: "wildcard host", spec: "  host: \"*.demo.svc.cluster.local\"\n", line: 5, message: "wildcard host"),
        Rejection(name: "partly qualified host", spec: "  host: reviews.prod\n", line: 5,
                  message: "'reviews.prod' does not name a Service"),
        Rejection(name: "external host", spec: "  host: api.example.com\n", line: 5, message: "does not name a Service"),
        Rejection(name: "two hash keys", spec: "  host: a\n  trafficPolicy:\n    loadBalancer:\n      consistentHash: {httpHeaderName: x, useSourceIp: true}\n",
                  line: 8, message: "needs exactly one of httpHeaderName, useSourceIp: true, httpQueryParameterName"),
        Rejection(name: "cookie hash", spec: "  host: a\n  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n        httpCookie: {name: c}\n",
                  line: 9, message: "httpCookie is not supported"),
        Rejection(name: "simple and consistentHash", spec: "  host: a\n  trafficPolicy:\n    loadBalancer:\n      simple: RANDOM\n      consistentHash: {useSourceIp: true}\n",
                  line: 8, message: "write simple or consistentHash, not both"),
        Rejection(name: "TLS SIMPLE", spec: "  host: a\n  trafficPolicy:\n    tls:\n      mode: SIMPLE\n", line: 8, message: "mode SIMPLE is not supported"),
        Rejection(name: "port settings twice", spec: """
              host: a
              trafficPolicy:
                portLevelSettings:
                - {port: {number: 80}, loadBalancer: {simple: RANDOM}}
                - {port: {number: 80}, loadBalancer: {simple: ROUND_ROBIN}}

            """, line: 9, message: "spec.trafficPolicy.portLevelSettings[1].port.number 80 has settings twice"),
        Rejection(name: "port settings without a port", spec: "  host: a\n  trafficPolicy:\n    portLevelSettings:\n    - loadBalancer: {simple: RANDOM}\n",
                  line: 8, message: "portLevelSettings[0].port is required"),
        Rejection(name: "port settings with a port name", spec: "  host: a\n  trafficPolicy:\n    portLevelSettings:\n    - port: {name: http}\n",
                  line: 8, message: "name"),
        Rejection(name: "port settings with TLS SIMPLE", spec: """
              host: a
              trafficPolicy:
                portLevelSettings:
                - port: {number: 443}
                  tls: {mode: SIMPLE}

            """, line: 9, message: "mode SIMPLE is not supported"),
        Rejection(name: "deprecated consecutiveErrors", spec: "  host: a\n  trafficPolicy:\n    outlierDetection:\n      consecutiveErrors: 3\n",
                  line: 8, message: "use consecutive5xxErrors"),
        Rejection(name: "maxEjectionPercent over 100", spec: "  host: a\n  trafficPolicy:\n    outlierDetection: {maxEjectionPercent: 150}\n",
                  line: 7, message: "maxEjectionPercent: 150 is out of range (0-100)"),
        Rejection(name: "negative limit", spec: "  host: a\n  trafficPolicy:\n    connectionPool:\n      tcp: {maxConnections: -1}\n", line: 8,
                  message: "maxConnections: -1 is out of range"),
        Rejection(name: "idle timeout", spec: "  host: a\n  trafficPolicy:\n    connectionPool:\n      http:\n        idleTimeout: 1s\n", line: 9,
                  message: "idleTimeout is not supported"),
        Rejection(name: "subset named twice", spec: "  host: a\n  subsets:\n  - {name: v1}\n  - {name: v1}\n", line: 8, message: "'v1' is used twice"),
        Rejection(name: "exportTo", spec: "  host: a\n  exportTo: [\".\"]\n", line: 6, message: "spec.exportTo is not supported"),
    ]

    @Test(arguments: rejections)
    func rejectedWithFileAndLine(_ rejection: Rejection) throws {
        try rejection.check(kind: "DestinationRule", apiVersion: "networking.istio.io/v1")
    }
}
