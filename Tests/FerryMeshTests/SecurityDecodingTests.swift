import FerryMesh
import Testing

@Suite struct AuthorizationPolicyDecodingTests {
    static func decode(_ yaml: String) throws -> [Resource] {
        try ResourceDecoder.decode(yaml: yaml, file: "test.yaml").map(\.resource)
    }

    static func policy(_ yaml: String) throws -> AuthorizationPolicy {
        guard case .authorizationPolicy(let policy) = try decode(yaml).first else {
            throw ResourceError(file: "test.yaml", line: 0, message: "not an AuthorizationPolicy")
        }
        return policy
    }

    @Test func everyFieldIsReadAndTyped() throws {
        let policy = try Self.policy("""
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: httpbin, namespace: foo}
        spec:
          selector:
            matchLabels: {app: httpbin}
          action: DENY
          rules:
          - from:
            - source:
                principals: ["cluster.local/ns/default/sa/sleep", "*"]
                notPrincipals: ["cluster.local/ns/*"]
                namespaces: ["test*"]
                notNamespaces: ["*-dev"]
                ipBlocks: ["203.0.113.0/24", "2001:db8::1"]
                notIpBlocks: ["203.0.113.4"]
                remoteIpBlocks: ["198.51.100.0/24"]
                notRemoteIpBlocks: ["198.51.100.7"]
            to:
            - operation:
                hosts: ["*.example.com"]
                notHosts: ["admin.example.com"]
                ports: ["8080", 9090]
                notPorts: ["22"]
                methods: ["GET"]
                notMethods: ["DELETE"]
                paths: ["/info*"]
                notPaths: ["/info/secret"]
            when:
            - key: request.headers[User-Agent]
              values: ["Mozilla/*"]
            - key: destination.port
              notValues: ["15000"]
            - key: source.ip
              values: ["10.0.0.0/8"]
        """)
        #expect(policy.key == "foo/httpbin")
        #expect(policy.selector == ["app": "httpbin"])
        #expect(policy.action == .deny)
        let rule = try #require(policy.rules.first)
        let source = try #require(rule.from.first)
        #expect(source.principals.values == [.exact("cluster.local/ns/default/sa/sleep"), .presence])
        #expect(source.principals.notValues == [.prefix("cluster.local/ns/")])
        #expect(source.namespaces == AttributeMatch([.prefix("test")], not: [.suffix("-dev")]))
        #expect(source.ipBlocks.values.map(\.description) == ["203.0.113.0/24", "2001:db8::1/128"])
        #expect(source.ipBlocks.notValues.map(\.description) == ["203.0.113.4/32"])
        #expect(source.remoteIPBlocks.values.map(\.description) == ["198.51.100.0/24"])
        #expect(source.remoteIPBlocks.notValues.map(\.description) == ["198.51.100.7/32"])
        let operation = try #require(rule.to.first)
        #expect(operation.hosts == AttributeMatch([.suffix(".example.com")], not: [.exact("admin.example.com")]))
        #expect(operation.ports == AttributeMatch([8080, 9090], not: [22]))
        #expect(operation.methods == AttributeMatch([.exact("GET")], not: [.exact("DELETE")]))
        #expect(operation.paths == AttributeMatch([.prefix("/info")], not: [.exact("/info/secret")]))
        #expect(rule.when == [
            .requestHeader(name: "user-agent", AttributeMatch([.prefix("Mozilla/")])),
            .destinationPort(AttributeMatch(not: [15000])),
            .sourceIP(AttributeMatch([CIDR("10.0.0.0/8")!])),
        ])
    }

    @Test(arguments: ["security.istio.io/v1", "security.istio.io/v1beta1"])
    func bothVersionsAndTheDefaults(apiVersion: String) throws {
        let policy = try Self.policy("""
        apiVersion: \(apiVersion)
        kind: AuthorizationPolicy
        metadata: {name: allow-nothing, namespace: foo}
        spec: {}
        """)
        #expect(policy.action == .allow)
        #expect(policy.rules.isEmpty)
        #expect(policy.selector.isEmpty)
    }

    @Test func anEmptyRuleIsKept() throws {
        let policy = try Self.policy("""
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: allow-all, namespace: foo}
        spec:
          rules:
          - {}
        """)
        #expect(policy.rules == [AuthorizationPolicy.Rule()])
    }

    @Test(arguments: ["source.ip", "remote.ip", "destination.ip", "destination.port", "source.namespace", "source.principal",
                      "request.headers[x-token]"])
    func supportedConditionKeys(key: String) throws {
        let value = key.hasSuffix(".ip") ? "10.1.2.3" : key == "destination.port" ? "80" : "abc"
        let policy = try Self.policy("""
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: p, namespace: foo}
        spec:
          rules:
          - when:
            - key: \(key)
              values: ["\(value)"]
        """)
        #expect(policy.rules.first?.when.count == 1)
    }

    @Test func aForeignKindOfTheSameNameIsSkipped() throws {
        let resources = try Self.decode("""
        apiVersion: networksecurity.cnrm.cloud.google.com/v1beta1
        kind: AuthorizationPolicy
        metadata: {name: other}
        spec: {action: WHATEVER}
        """)
        #expect(resources.isEmpty)
    }

    /// A rejected document: the line the error must name and words its message must hold.
    struct Rejection: Sendable, CustomTestStringConvertible {
        var name: String
        var spec: String
        var line: Int
        var message: String
        var apiVersion = "security.istio.io/v1"
        var metadata = "{name: p, namespace: foo}"
        var testDescription: String { name }

        var yaml: String {
            // The spec starts on line 5.
            "apiVersion: \(apiVersion)\nkind: AuthorizationPolicy\nmetadata: \(metadata)\nspec:\n" + spec
        }
    }

    static let rejections: [Rejection] = [
        Rejection(name: "unknown spec field", spec: "  actoin: DENY\n", line: 5, message: "unknown field 'actoin'"),
        Rejection(name: "unknown rule field", spec: "  rules:\n  - form: []\n", line: 6, message: "unknown field 'form'"),
        Rejection(name: "unknown source field", spec: """
              rules:
              - from:
                - source:
                    principal: ["a"]

            """, line: 8, message: "unknown field 'principal' in spec.rules[0].from[0].source"),
        Rejection(name: "unknown operation field", spec: """
              rules:
              - to:
                - operation:
                    method: ["GET"]

            """, line: 8, message: "unknown field 'method'"),
        Rejection(name: "unknown condition field", spec: """
              rules:
              - when:
                - key: source.ip
                  value: ["10.0.0.1"]

            """, line: 8, message: "unknown field 'value'"),
        Rejection(name: "unknown selector field", spec: "  selector:\n    matchLabel: {app: a}\n", line: 6,
                  message: "unknown field 'matchLabel'"),
        Rejection(name: "bad CIDR in ipBlocks", spec: """
              rules:
              - from:
                - source:
                    ipBlocks:
                    - 10.0.0.0/8
                    - 10.0.0.0/33

            """, line: 10, message: "'10.0.0.0/33' is not an IP address or CIDR block"),
        Rejection(name: "bad address in notRemoteIpBlocks", spec: """
              rules:
              - from:
                - source:
                    notRemoteIpBlocks: ["10.0.0.300"]

            """, line: 8, message: "'10.0.0.300'"),
        Rejection(name: "bad CIDR in a source.ip condition", spec: """
              rules:
              - when:
                - key: source.ip
                  values:
                  - nope

            """, line: 9, message: "'nope' is not an IP address or CIDR block"),
        Rejection(name: "bad port", spec: """
              rules:
              - to:
                - operation:
                    ports: ["70000"]

            """, line: 8, message: "'70000' is not a port number"),
        Rejection(name: "unknown action", spec: "  action: REJECT\n", line: 5, message: "'REJECT' is not one of ALLOW, DENY, AUDIT"),
        Rejection(name: "CUSTOM", spec: "  action: CUSTOM\n  provider: {name: ext-authz}\n", line: 5,
                  message: "CUSTOM is not supported: Ferry has no external authorizer"),
        Rejection(name: "provider without CUSTOM", spec: "  action: ALLOW\n  provider:\n    name: ext-authz\n", line: 6,
                  message: "provider is only used with action CUSTOM"),
        Rejection(name: "wrong apiVersion", spec: "  action: DENY\n", line: 1,
                  message: "apiVersion 'networking.istio.io/v1'; expected security.istio.io/v1 or security.istio.io/v1beta1",
                  apiVersion: "networking.istio.io/v1"),
        Rejection(name: "requestPrincipals", spec: """
              rules:
              - from:
                - source:
                    namespaces: ["a"]
                    requestPrincipals:
                    - "*"

            """, line: 9, message: "requestPrincipals needs JWT authentication, which Ferry does not support"),
        Rejection(name: "notRequestPrincipals", spec: """
              rules:
              - from:
                - source: {notRequestPrincipals: ["*"]}

            """, line: 7, message: "needs JWT authentication"),
        Rejection(name: "targetRefs", spec: "  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\n",
                  line: 5, message: "spec.targetRefs is not supported"),
        Rejection(name: "targetRef", spec: "  targetRef: {kind: Gateway, name: gw}\n", line: 5, message: "spec.targetRef is not supported"),
        Rejection(name: "unknown condition key", spec: """
              rules:
              - when:
                - key: source.ipaddress
                  values: ["10.0.0.1"]

            """, line: 7, message: "'source.ipaddress' is not a known condition"),
        Rejection(name: "JWT condition key", spec: """
              rules:
              - when:
                - key: request.auth.claims[iss]
                  values: ["https://accounts.google.com"]

            """, line: 7, message: "needs JWT authentication"),
        Rejection(name: "connection.sni", spec: """
              rules:
              - when:
                - key: connection.sni
                  values: ["www.example.com"]

            """, line: 7, message: "'connection.sni' is not supported"),
        Rejection(name: "condition without values", spec: "  rules:\n  - when:\n    - key: source.ip\n", line: 7,
                  message: "needs values or notValues"),
        Rejection(name: "empty source", spec: "  rules:\n  - from:\n    - source: {}\n", line: 7,
                  message: "spec.rules[0].from[0].source must not be empty"),
        Rejection(name: "missing source", spec: "  rules:\n  - from:\n    - {}\n", line: 7, message: "source is required"),
        Rejection(name: "empty from list", spec: "  rules:\n  - from: []\n", line: 6, message: "spec.rules[0].from must not be empty"),
        Rejection(name: "empty operation", spec: "  rules:\n  - to:\n    - operation: {}\n", line: 7, message: "must not be empty"),
        Rejection(name: "empty value", spec: "  rules:\n  - to:\n    - operation:\n        paths: [\"\"]\n", line: 8,
                  message: "paths[0] must not be empty"),
        Rejection(name: "path template", spec: "  rules:\n  - to:\n    - operation:\n        paths: [\"/a/{*}/b\"]\n", line: 8,
                  message: "path templates"),
        Rejection(name: "dry-run", spec: "  action: DENY\n", line: 3, message: "istio.io/dry-run is not supported",
                  metadata: "{name: p, namespace: foo, annotations: {istio.io/dry-run: \"true\"}}"),
    ]

    @Test(arguments: rejections)
    func rejectedWithFileAndLine(_ rejection: Rejection) throws {
        let error = try #require(throws: ResourceError.self) { try Self.decode(rejection.yaml) }
        #expect(error.file == "test.yaml")
        #expect(error.line == rejection.line, "\(error)")
        #expect(error.message.contains(rejection.message), "\(error)")
    }
}

@Suite struct PeerAuthenticationDecodingTests {
    func decode(_ spec: String) throws -> PeerAuthentication {
        let yaml = "apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: foo, creationTimestamp: \"2024-01-02T03:04:05Z\"}\nspec:\n" + spec
        guard case .peerAuthentication(let policy) = try ResourceDecoder.decode(yaml: yaml, file: "pa.yaml").first?.resource else {
            throw ResourceError(file: "pa.yaml", line: 0, message: "not a PeerAuthentication")
        }
        return policy
    }

    @Test func workloadPolicyWithPortLevelModes() throws {
        let policy = try decode("""
          selector:
            matchLabels: {app: finance}
          mtls: {mode: STRICT}
          portLevelMtls:
            8080:
              mode: DISABLE
            "9090": {mode: UNSET}
        """)
        #expect(policy.selector == ["app": "finance"])
        #expect(policy.mode == .strict)
        #expect(policy.portModes == [8080: .disable, 9090: .unset])
        #expect(policy.creationTimestamp == "2024-01-02T03:04:05Z")
    }

    @Test func missingModeIsUnset() throws {
        #expect(try decode("  {}\n").mode == .unset)
        #expect(try decode("  mtls: {}\n").mode == .unset)
    }

    @Test(arguments: [
        ("  mtls: {mode: STRICTER}\n", 5, "'STRICTER' is not one of UNSET, DISABLE, PERMISSIVE, STRICT"),
        ("  portLevelMtls:\n    8080: {mode: DISABLE}\n", 5, "portLevelMtls needs a selector"),
        ("  selector: {matchLabels: {app: a}}\n  portLevelMtls:\n    http: {mode: DISABLE}\n", 7, "'http' is not a port number"),
        ("  mtls: {mode: STRICT, strict: true}\n", 5, "unknown field 'strict'"),
        ("  portLevelTls: {}\n", 5, "unknown field 'portLevelTls'"),
    ])
    func rejectedWithLine(spec: String, line: Int, message: String) throws {
        let error = try #require(throws: ResourceError.self) { try decode(spec) }
        #expect(error.file == "pa.yaml")
        #expect(error.line == line, "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }
}

@Suite struct SecurityResourcesInMeshStateTests {
    @Test func keptSortedByKeyAndDuplicatesRejected() throws {
        let yaml = """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: b, namespace: foo}
        ---
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: a, namespace: foo}
        ---
        apiVersion: security.istio.io/v1
        kind: PeerAuthentication
        metadata: {name: default, namespace: istio-system}
        spec: {mtls: {mode: STRICT}}
        """
        let state = try MeshState(resources: ResourceDecoder.decode(yaml: yaml, file: "s.yaml"), generation: 1)
        #expect(state.authorizationPolicies.map(\.key) == ["foo/a", "foo/b"])
        #expect(state.peerAuthentications.map(\.mode) == [.strict])

        let duplicate = yaml + "\n---\napiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: a, namespace: foo}\n"
        let error = try #require(throws: ResourceError.self) {
            try MeshState(resources: ResourceDecoder.decode(yaml: duplicate, file: "s.yaml"), generation: 2)
        }
        #expect(error.message.contains("AuthorizationPolicy foo/a is defined twice"))
    }
}
