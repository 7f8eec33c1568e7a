import FerryMesh
import Testing

@Suite struct HTTPRouteDecodingTests {
    static func route(_ yaml: String) throws -> HTTPRoute {
        guard case .httpRoute(let route) = try decodeOne(yaml) else { throw ResourceError(file: "", line: 0, message: "not an HTTPRoute") }
        return route
    }

    @Test func everyFieldIsReadAndTyped() throws {
        let route = try Self.route("""
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: reviews, namespace: demo, creationTimestamp: "2026-01-02T03:04:05Z"}
        spec:
          parentRefs:
          - {group: "", kind: Service, name: reviews, port: 9080}
          - {group: core, kind: Service, name: ratings, namespace: other, sectionName: http}
          hostnames: ["Reviews.example.com", "*.example.com"]
          rules:
          - name: canary
            matches:
            - path: {type: PathPrefix, value: /api/}
              headers:
              - {name: X-Canary, value: "yes"}
              - {name: user, type: RegularExpression, value: "a.*"}
              queryParams:
              - {name: Debug, value: "1"}
              method: POST
            - path: {type: Exact, value: /healthz}
            - path: {type: RegularExpression, value: "/v[0-9]+/.*"}
            filters:
            - type: RequestHeaderModifier
              requestHeaderModifier:
                set: [{name: X-Env, value: canary}]
                add: [{name: X-Trace, value: "1"}]
                remove: [X-Debug]
            - type: ResponseHeaderModifier
              responseHeaderModifier: {remove: [Server]}
            - type: URLRewrite
              urlRewrite: {hostname: reviews.internal, path: {type: ReplaceFullPath, replaceFullPath: /v2}}
            - type: RequestMirror
              requestMirror: {backendRef: {name: shadow, port: 80}, percent: 25}
            - type: RequestMirror
              requestMirror: {backendRef: {name: shadow2, port: 80}, fraction: {numerator: 1, denominator: 8}}
            backendRefs:
            - {name: reviews-v2, port: 9080, weight: 90}
            - {name: reviews-v3, port: 9080}
            timeouts: {request: 10s, backendRequest: 500ms}
            retry: {codes: [500, 503], attempts: 3, backoff: 100ms}
          - backendRefs:
            - {name: reviews-v1, port: 9080, weight: 0}
            timeouts: {request: 0s}
          - filters:
            - type: RequestRedirect
              requestRedirect:
                scheme: https
                hostname: New.Example.com
                path: {type: ReplaceFullPath, replaceFullPath: /moved}
                port: 8443
                statusCode: 301
        """)
        #expect(route.key == "demo/reviews")
        #expect(route.creationTimestamp == "2026-01-02T03:04:05Z")
        #expect(route.parentRefs == [
            HTTPRoute.ParentRef(service: ServiceName(name: "reviews", namespace: "demo"), port: 9080),
            HTTPRoute.ParentRef(service: ServiceName(name: "ratings", namespace: "other"), sectionName: "http"),
        ])
        #expect(route.hostnames == ["reviews.example.com", "*.example.com"])
        let rule = try #require(route.rules.first)
        #expect(rule.name == "canary")
        #expect(rule.matches.count == 3)
        let first = rule.matches[0]
        #expect(first.path == .prefix("/api"))
        #expect(first.headers.map(\.name) == ["x-canary", "user"])
        #expect(first.headers[0].value == .exact("yes"))
        #expect(first.headers[1].value == .regularExpression(try CompiledRegex("a.*")))
        #expect(first.queryParams == [NamedValueMatch(name: "Debug", value: .exact("1"))])
        #expect(first.method == "POST")
        #expect(rule.matches[1].path == .exact("/healthz"))
        guard case .regularExpression(let regex) = rule.matches[2].path else { Issue.record("not a regex"); return }
        #expect(regex.wholeMatch("/v12/items"))
        #expect(!regex.wholeMatch("/v/items"))
        #expect(rule.filters == [
            .requestHeaderModifier(HeaderModifier(set: [HTTPHeaderField(name: "X-Env", value: "canary")],
                                                  add: [HTTPHeaderField(name: "X-Trace", value: "1")], remove: ["x-debug"])),
            .responseHeaderModifier(HeaderModifier(remove: ["server"])),
            .urlRewrite(URLRewrite(hostname: "reviews.internal", path: .replaceFullPath("/v2"))),
            .requestMirror(RequestMirror(service: ServiceName(name: "shadow", namespace: "demo"), port: 80, fraction: 0.25)),
            .requestMirror(RequestMirror(service: ServiceName(name: "shadow2", namespace: "demo"), port: 80, fraction: 0.125)),
        ])
        #expect(rule.backendRefs == [
            HTTPRoute.BackendRef(service: ServiceName(name: "reviews-v2", namespace: "demo"), port: 9080, weight: 90),
            HTTPRoute.BackendRef(service: ServiceName(name: "reviews-v3", namespace: "demo"), port: 9080, weight: 1),
        ])
        #expect(rule.timeouts == HTTPRoute.Timeouts(request: .seconds(10), backendRequest: .milliseconds(500)))
        #expect(rule.retry == HTTPRoute.Retry(codes: [500, 503], attempts: 3, backoff: .milliseconds(100)))
        let second = route.rules[1]
        #expect(second.matches == [HTTPRouteMatch()], "no matches is one match of every path")
        #expect(second.backendRefs.first?.weight == 0)
        #expect(second.timeouts.request == nil, "0s disables the timeout")
        #expect(second.retry == nil)
        #expect(route.rules[2].filters == [.requestRedirect(RequestRedirect(
            scheme: .https, hostname: "new.example.com", path: .replaceFullPath("/moved"), port: 8443, statusCode: 301))])
    }

    @Test(arguments: ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"])
    func bothVersionsAndTheDefaults(apiVersion: String) throws {
        let route = try Self.route("""
        apiVersion: \(apiVersion)
        kind: HTTPRoute
        metadata: {name: echo}
        spec:
          parentRefs: [{group: "", kind: Service, name: echo}]
          rules:
          - matches:
            - headers: [{name: x, value: y}]
        """)
        #expect(route.namespace == "default")
        #expect(route.parentRefs.first?.service.key == "default/echo")
        #expect(route.rules.first?.matches.first?.path == .prefix(""), "the path defaults to PathPrefix /")
        #expect(route.rules.first?.backendRefs.isEmpty == true)
    }

    /// GAMMA: backends in any namespace need no ReferenceGrant, and a
    /// backendRef carries filters of its own.
    @Test func backendRefsReachAnyNamespaceAndCarryTheirOwnFilters() throws {
        let route = try Self.route("""
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: consumer, namespace: shop}
        spec:
          parentRefs: [{group: "", kind: Service, name: echo, namespace: store}]
          rules:
          - matches: [{path: {value: /a}}]
            filters: [{type: RequestMirror, requestMirror: {backendRef: {name: shadow, namespace: audit, port: 80}}}]
            backendRefs:
            - name: echo-v1
              namespace: store
              port: 80
              filters:
              - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Version, value: v1}]}}
              - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: X-Served, value: v1}]}}
              - {type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}
            - {name: echo-v2, port: 80}
        """)
        #expect(route.parentRefs == [HTTPRoute.ParentRef(service: ServiceName(name: "echo", namespace: "store"))])
        let rule = try #require(route.rules.first)
        #expect(rule.problems.isEmpty)
        #expect(rule.filters == [.requestMirror(RequestMirror(service: ServiceName(name: "shadow", namespace: "audit"), port: 80))])
        #expect(rule.backendRefs == [
            HTTPRoute.BackendRef(service: ServiceName(name: "echo-v1", namespace: "store"), port: 80, filters: [
                .requestHeaderModifier(HeaderModifier(set: [HTTPHeaderField(name: "X-Version", value: "v1")])),
                .responseHeaderModifier(HeaderModifier(add: [HTTPHeaderField(name: "X-Served", value: "v1")])),
                .urlRewrite(URLRewrite(path: .replacePrefixMatch("/b"))),
            ]),
            HTTPRoute.BackendRef(service: ServiceName(name: "echo-v2", namespace: "shop"), port: 80),
        ])
    }

    /// Valid Gateway API that Ferry does not implement is no reason to refuse
    /// the file: it is kept, with file and line, for route status and for the
    /// error answers the route gives where it cannot carry it out.
    @Test func unsupportedButValidGatewayAPIIsKeptWithItsLine() throws {
        let route = try Self.route("""
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: r, namespace: demo}
        spec:
          parentRefs:
          - {name: gw}
          - {kind: Service, name: echo}
          - {group: "", kind: Service, name: echo}
          rules:
          - filters:
            - type: ExtensionRef
              extensionRef: {group: example.com, kind: Auth, name: a}
          - sessionPersistence: {sessionName: s}
          - backendRefs:
            - name: b
              port: 80
              filters: [{type: CORS, cors: {allowOrigins: ["https://a.example"]}}]
          - backendRefs:
            - {group: multicluster.x-k8s.io, kind: ServiceImport, name: imported}
            - {name: ok, port: 80}
        """)
        #expect(route.parentRefs.map(\.kind) == [.unsupported("gateway.networking.k8s.io/Gateway"),
                                                 .unsupported("gateway.networking.k8s.io/Service"), .service])
        let problems = route.rules.map { $0.problems.map { "\($0.line): \($0.message)" } }
        #expect(problems[0] == ["11: spec.rules[0].filters[0].type ExtensionRef is not supported by Ferry (supported: RequestHeaderModifier, RequestMirror, RequestRedirect, ResponseHeaderModifier, URLRewrite)"])
        #expect(problems[1].count == 1 && problems[1][0].hasPrefix("13: spec.rules[1].sessionPersistence is not supported"), "\(problems[1])")
        #expect(problems[2].count == 1 && problems[2][0].hasPrefix("17: spec.rules[2].backendRefs[0].filters[0].type CORS is not supported"),
                "\(problems[2])")
        #expect(problems[3].isEmpty)
        #expect(route.rules[3].backendRefs.map(\.kind) == [.unsupported("multicluster.x-k8s.io/ServiceImport"), .service])
    }

    static let parent = "  parentRefs: [{group: \"\", kind: Service, name: echo}]\n"

    static let rejections: [Rejection] = [
        Rejection(name: "unknown spec field", spec: parent + "  rulez: []\n", line: 6, message: "unknown field 'rulez' in spec"),
        Rejection(name: "unknown match field", spec: parent + "  rules:\n  - matches:\n    - pathh: {value: /}\n", line: 8,
                  message: "unknown field 'pathh' in spec.rules[0].matches[0]"),
        Rejection(name: "bad path regex", spec: parent + "  rules:\n  - matches:\n    - path: {type: RegularExpression, value: \"/a([\"}\n",
                  line: 8, message: "'/a([' is not a valid regular expression"),
        Rejection(name: "bad header regex", spec: parent + """
              rules:
              - matches:
                - headers:
                  - name: x
                    type: RegularExpression
                    value: "*"

            """, line: 11, message: "spec.rules[0].matches[0].headers[0].value: '*' is not a valid regular expression"),
        Rejection(name: "bad duration", spec: parent + "  rules:\n  - timeouts: {request: 10}\n", line: 7,
                  message: "'10' is not a Gateway API duration"),
        Rejection(name: "Go-style duration", spec: parent + "  rules:\n  - timeouts:\n      backendRequest: 1.5s\n", line: 8,
                  message: "spec.rules[0].timeouts.backendRequest: '1.5s' is not a Gateway API duration"),
        Rejection(name: "wrong apiVersion", spec: parent, line: 1,
                  message: "apiVersion 'gateway.networking.k8s.io/v1alpha2'; expected gateway.networking.k8s.io/v1 or gateway.networking.k8s.io/v1beta1",
                  apiVersion: "gateway.networking.k8s.io/v1alpha2"),
        Rejection(name: "redirect to another scheme", spec: parent + """
              rules:
              - filters:
                - type: RequestRedirect
                  requestRedirect: {scheme: ftp}

            """, line: 9, message: "requestRedirect.scheme 'ftp' is not one of http, https"),
        Rejection(name: "redirect status that is not a redirect", spec: parent + """
              rules:
              - filters:
                - type: RequestRedirect
                  requestRedirect: {statusCode: 200}

            """, line: 9, message: "statusCode 200 is not a redirect status (301, 302, 303, 307, 308)"),
        Rejection(name: "redirect port out of range", spec: parent + """
              rules:
              - filters:
                - type: RequestRedirect
                  requestRedirect: {port: 70000}

            """, line: 9, message: "port: 70000 is out of range (1-65535)"),
        Rejection(name: "redirect to a wildcard", spec: parent + """
              rules:
              - filters:
                - type: RequestRedirect
                  requestRedirect: {hostname: "*.example.com"}

            """, line: 9, message: "a redirect hostname cannot be a wildcard"),
        Rejection(name: "redirect and rewrite in one rule", spec: parent + """
              rules:
              - filters:
                - {type: URLRewrite, urlRewrite: {hostname: a}}
                - {type: RequestRedirect, requestRedirect: {hostname: b}}

            """, line: 9, message: "a rule takes URLRewrite or RequestRedirect, not both"),
        Rejection(name: "redirect ReplacePrefixMatch without a PathPrefix", spec: parent + """
              rules:
              - matches:
                - path: {type: Exact, value: /a}
                filters:
                - type: RequestRedirect
                  requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}

            """, line: 10, message: "ReplacePrefixMatch needs every match of the rule to be a PathPrefix"),
        Rejection(name: "unknown filter type", spec: parent + "  rules:\n  - filters:\n    - {type: Rewrite}\n", line: 8,
                  message: "'Rewrite' is not a filter type"),
        Rejection(name: "backend filter of an unknown type", spec: parent + """
              rules:
              - backendRefs:
                - name: b
                  port: 80
                  filters: [{type: Rewrite}]

            """, line: 10, message: "spec.rules[0].backendRefs[0].filters[0].type 'Rewrite' is not a filter type"),
        Rejection(name: "two header modifiers on one backend", spec: parent + """
              rules:
              - backendRefs:
                - name: b
                  port: 80
                  filters:
                  - {type: RequestHeaderModifier, requestHeaderModifier: {remove: [a]}}
                  - {type: RequestHeaderModifier, requestHeaderModifier: {remove: [b]}}

            """, line: 12, message: "RequestHeaderModifier appears twice"),
        Rejection(name: "filter block of another type", spec: parent + """
              rules:
              - filters:
                - type: RequestHeaderModifier
                  urlRewrite: {hostname: a}

            """, line: 9, message: "urlRewrite does not belong to a filter of type RequestHeaderModifier"),
        Rejection(name: "no parentRefs", spec: "  rules: []\n", line: 5, message: "spec.parentRefs is required"),
        Rejection(name: "backend without a port", spec: parent + "  rules:\n  - backendRefs:\n    - {name: b}\n", line: 8,
                  message: "spec.rules[0].backendRefs[0].port is required"),
        Rejection(name: "weight out of range", spec: parent + "  rules:\n  - backendRefs:\n    - {name: b, port: 80, weight: -1}\n", line: 8,
                  message: "weight: -1 is out of range (0-1000000)"),
        Rejection(name: "header matched twice", spec: parent + """
              rules:
              - matches:
                - headers:
                  - {name: X-A, value: "1"}
                  - {name: x-a, value: "2"}

            """, line: 10, message: "name 'x-a' is matched twice"),
        Rejection(name: "ReplacePrefixMatch with an Exact match", spec: parent + """
              rules:
              - matches:
                - path: {type: Exact, value: /a}
                filters:
                - type: URLRewrite
                  urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}

            """, line: 10, message: "ReplacePrefixMatch needs every match of the rule to be a PathPrefix"),
        Rejection(name: "two URLRewrites", spec: parent + """
              rules:
              - filters:
                - {type: URLRewrite, urlRewrite: {hostname: a}}
                - {type: URLRewrite, urlRewrite: {hostname: b}}

            """, line: 9, message: "URLRewrite appears twice"),
        Rejection(name: "backendRequest longer than request", spec: parent + "  rules:\n  - timeouts: {request: 1s, backendRequest: 2s}\n",
                  line: 7, message: "backendRequest must not be longer than request"),
        Rejection(name: "retry code outside 400-599", spec: parent + "  rules:\n  - retry: {codes: [302]}\n", line: 7,
                  message: "codes[0]: 302 is out of range (400-599)"),
        Rejection(name: "bad retry backoff", spec: parent + "  rules:\n  - retry: {backoff: fast}\n", line: 7,
                  message: "'fast' is not a Gateway API duration"),
        Rejection(name: "unknown method", spec: parent + "  rules:\n  - matches:\n    - method: FETCH\n", line: 8,
                  message: "method 'FETCH' is not one of"),
        Rejection(name: "path not starting with /", spec: parent + "  rules:\n  - matches:\n    - path: {type: Exact, value: api}\n",
                  line: 8, message: "value 'api' must start with '/'"),
        Rejection(name: "unknown path type", spec: parent + "  rules:\n  - matches:\n    - path: {type: Prefix, value: /}\n",
                  line: 8, message: "type 'Prefix' is not one of Exact, PathPrefix, RegularExpression"),
        Rejection(name: "bad hostname", spec: parent + "  hostnames: [\"10.0.0.1\"]\n", line: 6, message: "'10.0.0.1' is not a hostname"),
        Rejection(name: "bad header name to set", spec: parent + """
              rules:
              - filters:
                - type: RequestHeaderModifier
                  requestHeaderModifier:
                    set: [{name: "bad header", value: x}]

            """, line: 10, message: "'bad header' is not a valid header name"),
        Rejection(name: "mirror percent and fraction", spec: parent + """
              rules:
              - filters:
                - type: RequestMirror
                  requestMirror: {backendRef: {name: s, port: 80}, percent: 5, fraction: {numerator: 1}}

            """, line: 9, message: "write percent or fraction, not both"),
    ]

    @Test(arguments: rejections)
    func rejectedWithFileAndLine(_ rejection: Rejection) throws {
        try rejection.check(kind: "HTTPRoute", apiVersion: "gateway.networking.k8s.io/v1")
    }
}
