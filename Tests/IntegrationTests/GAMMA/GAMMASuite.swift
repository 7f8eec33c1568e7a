/// Every test of the Gateway API mesh conformance profiles (MESH-HTTP and
/// MESH-GRPC: kubernetes-sigs/gateway-api conformance/tests/mesh at
/// 4564255ac, after v1.6.1), with the suite's manifests, requests and
/// expectations. What the suite fills in but does not compare in mesh mode
/// (the path the backend saw, the redirect Location) is compared here too.
///
/// Outside a cluster two things differ, neither in what is tested: there is
/// no DNS, so a request dials the VIP of the Service the suite's host name
/// names and sends that name as Host (or :authority); and Deployments are
/// pods declared as WorkloadEntries (see `GAMMALab`). The gRPC echo answers
/// raw bytes rather than the echo app's protobuf messages; the suite reads
/// only the text fields both carry.
enum GAMMASuite {
    static let namespace = "gateway-conformance-mesh"
    static let consumerNamespace = "gateway-conformance-mesh-consumer"
    /// The Services of the base manifests and the VIPs they are given here
    /// (a cluster assigns them; the file source takes them as written).
    static let vips = ["echo": "198.19.0.10", "echo-v1": "198.19.0.11", "echo-v2": "198.19.0.12"]

    /// The suite's request to `host` ("echo", "echo-v1:8080",
    /// "echo-v1.gateway-conformance-mesh"): to that Service's VIP and port,
    /// with the host as Host unless the case sets another.
    static func http(_ host: String, _ path: String = "/", headers: [(String, String)] = [], authority: String? = nil) -> GAMMARequest {
        let parts = host.split(separator: ":")
        let service = String(parts[0].split(separator: ".")[0])
        let port = parts.count > 1 ? String(parts[1]) : "80"
        return GAMMARequest(address: "\(vips[service]!):\(port)", authority: authority ?? host, path: path, headers: headers)
    }

    static func grpc(_ host: String, headers: [(String, String)] = []) -> GAMMARequest {
        var request = http(host, headers: headers)
        request.grpc = true
        request.method = "POST"
        return request
    }

    /// An HTTPRoute (or GRPCRoute) in the mesh namespace whose parent is a Service.
    static func route(_ name: String, kind: String = "HTTPRoute", namespace: String = namespace, parent: String = "echo",
                      parentNamespace: String? = nil, port: Int? = 80, rules: String) -> String {
        var ref = "{group: \"\", kind: Service, name: \(parent)"
        if let parentNamespace { ref += ", namespace: \(parentNamespace)" }
        if let port { ref += ", port: \(port)" }
        ref += "}"
        return """
        apiVersion: gateway.networking.k8s.io/v1
        kind: \(kind)
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          parentRefs: [\(ref)]
          rules:
        \(rules)
        """
    }

    static func ok(_ backend: String, path: String? = nil) -> GAMMAExpect { GAMMAExpect(backend: backend, path: path) }

    static let tests: [GAMMATest] = [
        meshBasic, meshTrafficSplit, meshFrontend, meshFrontendHostname, meshPorts, meshConsumerRoute,
        simpleSameNamespace, matching, queryParamMatching, namedRule,
        requestHeaderModifier(backendLevel: false), requestHeaderModifier(backendLevel: true), rewritePath,
        redirectHostAndStatus, redirectPath, redirectPort, schemeRedirect,
        statusRedirect(303, prefix: "/redirect"), statusRedirect(307, prefix: "/temporary"), statusRedirect(308, prefix: "/permanent"),
        httpWeight, grpcRequestHeaderModifier, grpcWeight,
    ]

    // MARK: Service front ends, ports, consumer routes

    static let meshBasic = GAMMATest(
        name: "MeshBasic", source: "mesh-basic.go", manifests: "",
        cases: [GAMMACase(name: "echo", client: .v1, request: http("echo"), expect: GAMMAExpect())]
    )

    static let meshTrafficSplit = GAMMATest(
        name: "MeshTrafficSplit", source: "mesh-split.go",
        manifests: route("mesh-split", port: nil, rules: """
          - matches: [{path: {type: Exact, value: /v1}}]
            backendRefs: [{name: echo-v1, port: 80}]
          - matches: [{path: {type: Exact, value: /v2}}]
            backendRefs: [{name: echo-v2, port: 80}]
        """),
        cases: [
            GAMMACase(name: "/v1", client: .v1, request: http("echo", "/v1"), expect: ok("echo-v1", path: "/v1")),
            GAMMACase(name: "/v2", client: .v1, request: http("echo", "/v2"), expect: ok("echo-v2", path: "/v2")),
        ]
    )

    /// mesh-frontend.yaml, shared by MeshFrontend and MeshFrontendHostname.
    static let frontendRoute = route("mesh-split-v1", parent: "echo-v2", port: nil, rules: """
      - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Header-Set, value: set}]}}]
        backendRefs: [{name: echo-v2, port: 80}]
    """)

    static let meshFrontend = GAMMATest(
        name: "MeshFrontend", source: "mesh-frontend.go", manifests: frontendRoute,
        cases: [
            GAMMACase(name: "Send to service", client: .v1, request: http("echo-v2"),
                      expect: GAMMAExpect(backend: "echo-v2", responseHeaders: ["X-Header-Set": "set"])),
            // The pod's own address: the suite's `v2.Address`, filled in by `GAMMALab`.
            GAMMACase(name: "Send to pod IP", client: .v1,
                      request: GAMMARequest(address: "ECHO_V2_POD:8080", authority: "ECHO_V2_POD:8080"),
                      expect: GAMMAExpect(backend: "echo-v2", absentResponseHeaders: ["X-Header-Set"])),
        ]
    )

    static let meshFrontendHostname = GAMMATest(
        name: "MeshFrontendHostname", source: "mesh-frontend-hostname.go", manifests: frontendRoute,
        cases: [
            GAMMACase(name: "Send to service with wrong hostname", client: .v1, request: http("echo-v2", authority: "echo-v1"),
                      expect: GAMMAExpect(backend: "echo-v2", responseHeaders: ["X-Header-Set": "set"])),
            GAMMACase(name: "Send to other service with matching hostname", client: .v1, request: http("echo-v1", authority: "echo-v2"),
                      expect: GAMMAExpect(backend: "echo-v1", absentResponseHeaders: ["X-Header-Set"])),
        ]
    )

    static let meshPorts = GAMMATest(
        name: "MeshPorts", source: "mesh-ports.go",
        manifests: route("mesh-split-v1", parent: "echo-v1", port: 80, rules: """
          - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Header-Set, value: v1}]}}]
            backendRefs: [{name: echo-v1, port: 80}]
        """) + "\n---\n" + route("mesh-split-v2", parent: "echo-v2", port: nil, rules: """
          - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Header-Set, value: v2}]}}]
            backendRefs: [{name: echo-v2, port: 80}]
        """),
        cases: [
            GAMMACase(name: "Explicit port set, send to that port", client: .v1, request: http("echo-v1"),
                      expect: GAMMAExpect(backend: "echo-v1", responseHeaders: ["X-Header-Set": "v1"])),
            GAMMACase(name: "Explicit port, send to an excluded port", client: .v1, request: http("echo-v1:8080"),
                      expect: GAMMAExpect(backend: "echo-v1", absentResponseHeaders: ["X-Header-Set"])),
            GAMMACase(name: "No port set", client: .v1, request: http("echo-v2"),
                      expect: GAMMAExpect(backend: "echo-v2", responseHeaders: ["X-Header-Set": "v2"])),
            GAMMACase(name: "No port set, port 8080", client: .v1, request: http("echo-v2:8080"),
                      expect: GAMMAExpect(backend: "echo-v2", responseHeaders: ["X-Header-Set": "v2"])),
        ]
    )

    /// No ReferenceGrant: GAMMA routes may name backends in any namespace.
    static let meshConsumerRoute = GAMMATest(
        name: "MeshConsumerRoute", source: "mesh-consumer-route.go",
        manifests: route("mesh-echo-add-header", namespace: consumerNamespace, parent: "echo-v1", parentNamespace: namespace, port: nil,
                         rules: """
          - filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: X-Header-Set, value: set}]}}]
            backendRefs: [{name: echo-v1, namespace: gateway-conformance-mesh, port: 80}]
        """),
        cases: [
            GAMMACase(name: "request from consumer route's namespace modified by HTTPRoute", client: .consumer,
                      request: http("echo-v1.gateway-conformance-mesh"),
                      expect: GAMMAExpect(backend: "echo-v1", responseHeaders: ["X-Header-Set": "set"])),
            GAMMACase(name: "request not from consumer route's namespace not modified by HTTPRoute", client: .v1,
                      request: http("echo-v1.gateway-conformance-mesh"),
                      expect: GAMMAExpect(backend: "echo-v1", absentResponseHeaders: ["X-Header-Set"])),
        ]
    )

    // MARK: Matching

    static let simpleSameNamespace = GAMMATest(
        name: "MeshHTTPRouteSimpleSameNamespace", source: "httproute-simple-same-namespace.go",
        manifests: route("gateway-conformance-mesh-test", rules: "  - backendRefs: [{name: echo-v1, port: 8080}]"),
        cases: [GAMMACase(name: "/", client: .v1, request: http("echo"), expect: ok("echo-v1", path: "/"))]
    )

    static let matching = GAMMATest(
        name: "MeshHTTPRouteMatching", source: "httproute-matching.go",
        manifests: route("mesh-matching", rules: """
          - matches: [{path: {type: PathPrefix, value: /}}, {headers: [{name: version, value: one}]}]
            backendRefs: [{name: echo-v1, port: 8080}]
          - matches: [{path: {type: PathPrefix, value: /v2}}, {headers: [{name: version, value: two}]}]
            backendRefs: [{name: echo-v2, port: 8080}]
        """),
        cases: [
            ("/", [], "echo-v1"), ("/example", [], "echo-v1"), ("/", [("Version", "one")], "echo-v1"),
            ("/v2", [], "echo-v2"), ("/v2/example", [], "echo-v2"), ("/", [("Version", "two")], "echo-v2"),
            ("/v2/", [], "echo-v2"), ("/v2example", [], "echo-v1"), ("/foo/v2/example", [], "echo-v1"),
        ].map { path, headers, backend in
            GAMMACase(name: path + headers.map { " \($0.0): \($0.1)" }.joined(), client: .v1,
                      request: http("echo", path, headers: headers), expect: ok(backend, path: path))
        }
    )

    static let queryParamMatching = GAMMATest(
        name: "MeshHTTPRouteQueryParamMatching", source: "httproute-query-param-matching.go",
        manifests: route("mesh-query-param-matching", rules: """
          - matches: [{queryParams: [{name: animal, value: whale}]}]
            backendRefs: [{name: echo-v1, port: 8080}]
          - matches: [{queryParams: [{name: animal, value: dolphin}]}]
            backendRefs: [{name: echo-v2, port: 8080}]
          - matches: [{path: {type: PathPrefix, value: /path1}, queryParams: [{name: animal, value: whale}]}]
            backendRefs: [{name: echo-v1, port: 8080}]
          - matches: [{headers: [{name: version, value: one}], queryParams: [{name: animal, value: whale}]}]
            backendRefs: [{name: echo-v2, port: 8080}]
          - matches:
            - {path: {type: PathPrefix, value: /path3}, queryParams: [{name: animal, value: shark}]}
            - {path: {type: PathPrefix, value: /path4}, headers: [{name: version, value: three}], queryParams: [{name: animal, value: kraken}]}
            backendRefs: [{name: echo-v1, port: 8080}]
          - matches: [{path: {type: PathPrefix, value: /path5}}]
            backendRefs: [{name: echo-v1, port: 8080}]
          - matches: [{queryParams: [{name: animal, value: hydra}]}]
            backendRefs: [{name: echo-v2, port: 8080}]
        """),
        cases: [
            ("/?animal=whale", [], "echo-v1"), ("/?animal=dolphin", [], "echo-v2"),
            ("/?animal=whale&otherparam=irrelevant", [], "echo-v1"), ("/?animal=dolphin&color=yellow", [], "echo-v2"),
            ("/?color=blue", [], "404"), ("/?animal=dog", [], "404"), ("/?animal=whaledolphin", [], "404"), ("/", [], "404"),
            ("/path1?animal=whale", [], "echo-v1"), ("/?animal=whale", [("version", "one")], "echo-v2"),
            ("/path3?animal=shark", [], "echo-v1"), ("/path4?animal=kraken", [("version", "three")], "echo-v1"),
            ("/?animal=shark", [], "404"), ("/path4?animal=kraken", [], "404"), ("/path5?animal=hydra", [], "echo-v1"),
        ].map { path, headers, backend in
            GAMMACase(name: path + headers.map { " \($0.0): \($0.1)" }.joined(), client: .v1, request: http("echo", path, headers: headers),
                      expect: backend == "404" ? GAMMAExpect(status: [404]) : ok(backend, path: path))
        }
    )

    /// Upstream expects path /named for the unnamed rule too, a copy slip it
    /// never compares; the path that rule sends is /unnamed.
    static let namedRule = GAMMATest(
        name: "MeshHTTPRouteNamedRule", source: "httproute-named-rule.go",
        manifests: route("mesh-http-named-rules", rules: """
          - name: named-rule
            matches: [{path: {type: PathPrefix, value: /named}}]
            backendRefs: [{name: echo-v1, port: 8080}]
          - matches: [{path: {type: PathPrefix, value: /unnamed}}]
            backendRefs: [{name: echo-v2, port: 8080}]
        """),
        cases: [
            GAMMACase(name: "/named", client: .v1, request: http("echo", "/named"), expect: ok("echo-v1", path: "/named")),
            GAMMACase(name: "/unnamed", client: .v1, request: http("echo", "/unnamed"), expect: ok("echo-v2", path: "/unnamed")),
        ]
    )

    // MARK: Header modifiers and rewrites

    /// httproute-request-header-modifier.yaml, or with `backendLevel` its
    /// -backend.yaml twin, whose filters sit on the backendRef.
    static func requestHeaderModifier(backendLevel: Bool) -> GAMMATest {
        let modifiers = [
            ("/set", "{set: [{name: X-Header-Set, value: set-overwrites-values}]}"),
            ("/add", "{add: [{name: X-Header-Add, value: add-appends-values}]}"),
            ("/remove", "{remove: [X-Header-Remove]}"),
            ("/multiple", """
            {set: [{name: X-Header-Set-1, value: header-set-1}, {name: X-Header-Set-2, value: header-set-2}], \
            add: [{name: X-Header-Add-1, value: header-add-1}, {name: X-Header-Add-2, value: header-add-2}, \
            {name: X-Header-Add-3, value: header-add-3}], remove: [X-Header-Remove-1, X-Header-Remove-2]}
            """),
            ("/case-insensitivity", "{set: [{name: X-Header-Set, value: header-set}], add: [{name: X-Header-Add, value: header-add}], remove: [X-Header-Remove]}"),
        ]
        let rules = modifiers.map { prefix, modifier in
            let filter = "[{type: RequestHeaderModifier, requestHeaderModifier: \(modifier)}]"
            return backendLevel
                ? "  - matches: [{path: {type: PathPrefix, value: \(prefix)}}]\n    backendRefs: [{name: echo-v1, port: 8080, filters: \(filter)}]"
                : "  - matches: [{path: {type: PathPrefix, value: \(prefix)}}]\n    filters: \(filter)\n    backendRefs: [{name: echo-v1, port: 8080}]"
        }.joined(separator: "\n")
        func c(_ name: String, _ path: String, _ headers: [(String, String)], seen: [String: String], absent: [String] = []) -> GAMMACase {
            GAMMACase(name: name, client: .v1, request: http("echo", path, headers: headers),
                      expect: GAMMAExpect(backend: "echo-v1", requestHeaders: seen, absentRequestHeaders: absent, path: path))
        }
        return GAMMATest(
            name: backendLevel ? "MeshHTTPRouteBackendRequestHeaderModifier" : "MeshHTTPRouteRequestHeaderModifier",
            source: "httproute-request-header-modifier.go (\(backendLevel ? "-backend" : "rule-level").yaml)",
            manifests: route("mesh-request-header-modifier", rules: rules),
            cases: [
                c("set", "/set", [("Some-Other-Header", "val")], seen: ["Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"]),
                c("set overwrites", "/set", [("Some-Other-Header", "val"), ("X-Header-Set", "some-other-value")],
                  seen: ["Some-Other-Header": "val", "X-Header-Set": "set-overwrites-values"]),
                c("add", "/add", [("Some-Other-Header", "val")], seen: ["Some-Other-Header": "val", "X-Header-Add": "add-appends-values"]),
                c("add appends", "/add", [("Some-Other-Header", "val"), ("X-Header-Add", "some-other-value")],
                  seen: ["Some-Other-Header": "val", "X-Header-Add": "some-other-value,add-appends-values"]),
                c("remove", "/remove", [("X-Header-Remove", "val")], seen: [:], absent: ["X-Header-Remove"]),
                c("multiple", "/multiple", [("X-Header-Set-2", "set-val-2"), ("X-Header-Add-2", "add-val-2"),
                                            ("X-Header-Remove-2", "remove-val-2"), ("Another-Header", "another-header-val")],
                  seen: ["X-Header-Set-1": "header-set-1", "X-Header-Set-2": "header-set-2", "X-Header-Add-1": "header-add-1",
                         "X-Header-Add-2": "add-val-2,header-add-2", "X-Header-Add-3": "header-add-3", "Another-Header": "another-header-val"],
                  absent: ["X-Header-Remove-1", "X-Header-Remove-2"]),
                c("case-insensitivity", "/case-insensitivity", [("x-header-set", "original-val-set"), ("x-header-add", "original-val-add"),
                                                                ("x-header-remove", "original-val-remove"), ("Another-Header", "another-header-val")],
                  seen: ["X-Header-Set": "header-set", "X-Header-Add": "original-val-add,header-add", "Another-Header": "another-header-val"],
                  absent: ["x-header-remove", "X-Header-Remove"]),
            ]
        )
    }

    static let rewritePath: GAMMATest = {
        let modify = "{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}], add: [{name: X-Header-Add, value: header-val-1}, {name: X-Header-Add-Append, value: header-val-2}], remove: [X-Header-Remove]}}"
        func rule(_ prefix: String, _ rewrite: String, _ extra: String = "") -> String {
            "  - matches: [{path: {type: PathPrefix, value: \(prefix)}}]\n    filters: [{type: URLRewrite, urlRewrite: {path: \(rewrite)}}\(extra)]\n    backendRefs: [{name: echo-v1, port: 80}]"
        }
        let sent = [("X-Header-Remove", "remove-val"), ("X-Header-Add-Append", "append-val-1"), ("X-Header-Set", "set-val")]
        let seen = ["X-Header-Add": "header-val-1", "X-Header-Add-Append": "append-val-1,header-val-2", "X-Header-Set": "set-overwrites-values"]
        func c(_ path: String, _ upstream: String, modified: Bool = false) -> GAMMACase {
            GAMMACase(name: path, client: .v1, request: http("echo", path, headers: modified ? sent : []),
                      expect: GAMMAExpect(backend: "echo-v1", requestHeaders: modified ? seen : [:],
                                          absentRequestHeaders: modified ? ["X-Header-Remove"] : [], path: upstream))
        }
        return GAMMATest(
            name: "MeshHTTPRouteRewritePath", source: "httproute-rewrite-path.go",
            manifests: route("mesh-rewrite-path", rules: [
                rule("/prefix/one", "{type: ReplacePrefixMatch, replacePrefixMatch: /one}"),
                rule("/strip-prefix", "{type: ReplacePrefixMatch, replacePrefixMatch: /}"),
                rule("/full/one", "{type: ReplaceFullPath, replaceFullPath: /one}"),
                rule("/full/rewrite-path-and-modify-headers", "{type: ReplaceFullPath, replaceFullPath: /test}", ", " + modify),
                rule("/prefix/rewrite-path-and-modify-headers", "{type: ReplacePrefixMatch, replacePrefixMatch: /prefix}", ", " + modify),
            ].joined(separator: "\n")),
            cases: [
                c("/prefix/one/two", "/one/two"), c("/strip-prefix/three", "/three"), c("/strip-prefix", "/"),
                c("/full/one/two", "/one"), c("/full/rewrite-path-and-modify-headers/test", "/test", modified: true),
                c("/prefix/rewrite-path-and-modify-headers/one", "/prefix/one", modified: true),
            ]
        )
    }()

    // MARK: Redirects

    static func redirectRules(_ rules: [(String, String)]) -> String {
        rules.map { prefix, redirect in
            "  - matches: [{path: {type: PathPrefix, value: \(prefix)}}]\n    filters: [{type: RequestRedirect, requestRedirect: \(redirect)}]"
        }.joined(separator: "\n")
    }

    static func redirect(_ path: String, _ status: Int, _ location: GAMMALocation) -> GAMMACase {
        GAMMACase(name: path, client: .v1, request: http("echo", path), expect: GAMMAExpect(status: [status], location: location))
    }

    static let redirectHostAndStatus = GAMMATest(
        name: "MeshHTTPRouteRedirectHostAndStatus", source: "httproute-redirect-host-and-status.go",
        manifests: route("mesh-redirect-host-and-status", rules: redirectRules([
            ("/hostname-redirect", "{hostname: example.org}"), ("/host-and-status", "{statusCode: 301, hostname: example.org}"),
        ])),
        cases: [
            redirect("/hostname-redirect", 302, GAMMALocation(host: "example.org")),
            redirect("/host-and-status", 301, GAMMALocation(host: "example.org")),
        ]
    )

    static let redirectPath = GAMMATest(
        name: "MeshHTTPRouteRedirectPath", source: "httproute-redirect-path.go",
        manifests: route("mesh-redirect-path", rules: redirectRules([
            ("/original-prefix", "{path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}"),
            ("/full", "{path: {type: ReplaceFullPath, replaceFullPath: /full-path-replacement}}"),
            ("/path-and-host", "{hostname: example.org, path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}"),
            ("/path-and-status", "{path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}, statusCode: 301}"),
            ("/full-path-and-host", "{hostname: example.org, path: {type: ReplaceFullPath, replaceFullPath: /replacement-full}}"),
            ("/full-path-and-status", "{path: {type: ReplaceFullPath, replaceFullPath: /replacement-full}, statusCode: 301}"),
        ])),
        cases: [
            redirect("/original-prefix/lemon", 302, GAMMALocation(host: "echo", path: "/replacement-prefix/lemon")),
            redirect("/full/path/original", 302, GAMMALocation(host: "echo", path: "/full-path-replacement")),
            redirect("/path-and-host", 302, GAMMALocation(host: "example.org", path: "/replacement-prefix")),
            redirect("/path-and-status", 301, GAMMALocation(host: "echo", path: "/replacement-prefix")),
            redirect("/full-path-and-host", 302, GAMMALocation(host: "example.org", path: "/replacement-full")),
            redirect("/full-path-and-status", 301, GAMMALocation(host: "echo", path: "/replacement-full")),
        ]
    )

    static let redirectPort = GAMMATest(
        name: "MeshHTTPRouteRedirectPort", source: "httproute-redirect-port.go",
        manifests: route("mesh-redirect-port", rules: redirectRules([
            ("/port", "{port: 8083}"), ("/port-and-host", "{hostname: example.org, port: 8083}"),
            ("/port-and-status", "{port: 8083, statusCode: 301}"),
            ("/port-and-host-and-status", "{port: 8083, hostname: example.org, statusCode: 302}"),
        ])),
        cases: [
            redirect("/port", 302, GAMMALocation(host: "echo", port: 8083)),
            redirect("/port-and-host", 302, GAMMALocation(host: "example.org", port: 8083)),
            redirect("/port-and-status", 301, GAMMALocation(host: "echo", port: 8083)),
            redirect("/port-and-host-and-status", 302, GAMMALocation(host: "example.org", port: 8083)),
        ]
    )

    static let schemeRedirect = GAMMATest(
        name: "MeshHTTPRouteSchemeRedirect", source: "httproute-redirect-scheme.go",
        manifests: route("mesh-redirect-scheme", rules: redirectRules([
            ("/scheme", "{scheme: https}"), ("/scheme-and-host", "{hostname: example.org, scheme: https}"),
            ("/scheme-and-status", "{scheme: https, statusCode: 301}"),
            ("/scheme-and-host-and-status", "{scheme: https, statusCode: 302, hostname: example.org}"),
        ])),
        cases: [
            redirect("/scheme", 302, GAMMALocation(scheme: "https", host: "echo")),
            redirect("/scheme-and-host", 302, GAMMALocation(scheme: "https", host: "example.org")),
            redirect("/scheme-and-status", 301, GAMMALocation(scheme: "https", host: "echo")),
            redirect("/scheme-and-host-and-status", 302, GAMMALocation(scheme: "https", host: "example.org")),
        ]
    )

    /// MeshHTTPRoute303Redirect, 307 and 308 (provisional upstream).
    static func statusRedirect(_ status: Int, prefix: String) -> GAMMATest {
        GAMMATest(
            name: "MeshHTTPRoute\(status)Redirect", source: "httproute-\(status)-redirect.go",
            manifests: route("mesh-\(status)-redirect", rules: redirectRules([(prefix, "{statusCode: \(status)}")])),
            cases: [redirect(prefix, status, GAMMALocation(host: "echo"))]
        )
    }

    // MARK: Weights and GRPCRoute

    static let httpWeight = GAMMATest(
        name: "MeshHTTPRouteWeight", source: "httproute-weight.go",
        manifests: route("mesh-weighted-backends", rules: "  - backendRefs: [{name: echo-v1, port: 8080, weight: 70}, {name: echo-v2, port: 8080, weight: 30}]"),
        weights: [GAMMAWeights(name: "Requests should have a distribution that matches the weight", client: .v1, request: http("echo"),
                               expected: ["echo-v1": 0.7, "echo-v2": 0.3])]
    )

    static let grpcRequestHeaderModifier: GAMMATest = {
        let rules = [
            ("set", "{set: [{name: x-header-set, value: set-overwrites-values}]}", "echo-v1"),
            ("add", "{add: [{name: x-header-add, value: add-appends-values}]}", "echo-v1"),
            ("remove", "{remove: [x-header-remove]}", "echo-v1"),
            ("multi", "{set: [{name: x-header-set-1, value: header-set-1}, {name: x-header-set-2, value: header-set-2}], add: [{name: x-header-add-1, value: header-add-1}, {name: x-header-add-2, value: header-add-2}], remove: [x-header-remove-1, x-header-remove-2]}", "echo-v2"),
        ].map { value, modifier, backend in
            "  - matches: [{headers: [{name: x-test-case, value: \(value)}]}]\n    filters: [{type: RequestHeaderModifier, requestHeaderModifier: \(modifier)}]\n    backendRefs: [{name: \(backend), port: 7070}]"
        }.joined(separator: "\n")
        func c(_ name: String, _ client: GAMMAClient, _ value: String, _ sent: [(String, String)], seen: [String: String],
               absent: [String] = [], backend: String) -> GAMMACase {
            GAMMACase(name: name, client: client, request: grpc("echo:7070", headers: [("x-test-case", value)] + sent),
                      expect: GAMMAExpect(backend: backend, requestHeaders: seen.merging(["x-test-case": value]) { a, _ in a },
                                          absentRequestHeaders: absent))
        }
        return GAMMATest(
            name: "MeshGRPCRouteRequestHeaderModifier", source: "grpcroute-request-header-modifier.go",
            manifests: route("grpc-request-header-modifier", kind: "GRPCRoute", port: 7070, rules: rules),
            cases: [
                c("Set headers -- overwrites existing header", .v1, "set",
                  [("some-other-header", "this-header-should-be-set"), ("x-header-set", "this-value-should-be-overwritten")],
                  seen: ["some-other-header": "this-header-should-be-set", "x-header-set": "set-overwrites-values"], backend: "echo-v1"),
                c("Add headers -- appends to existing header", .v1, "add", [("x-header-add", "this-value-should-be-appended")],
                  seen: ["x-header-add": "this-value-should-be-appended,add-appends-values"], backend: "echo-v1"),
                c("Remove headers -- removes headers", .v1, "remove", [("x-header-remove", "this-should-be-removed")],
                  seen: [:], absent: ["x-header-remove"], backend: "echo-v1"),
                c("Multiple operations -- set, add, and remove headers", .v2, "multi",
                  [("x-header-set-2", "set-header-2"), ("x-header-add-2", "add-header-2"), ("x-header-remove-2", "should-be-removed-2")],
                  seen: ["x-header-set-1": "header-set-1", "x-header-set-2": "header-set-2", "x-header-add-1": "header-add-1",
                         "x-header-add-2": "add-header-2,header-add-2"],
                  absent: ["x-header-remove-1", "x-header-remove-2"], backend: "echo-v2"),
            ]
        )
    }()

    /// echo-v3 does not exist: its weight is 0, and the route must still work.
    static let grpcWeight = GAMMATest(
        name: "MeshGRPCRouteWeight", source: "grpcroute-weight.go",
        manifests: route("mesh-grpc-weighted-backends", kind: "GRPCRoute", port: 7070,
                         rules: "  - backendRefs: [{name: echo-v1, port: 7070, weight: 70}, {name: echo-v2, port: 7070, weight: 30}, {name: echo-v3, port: 7070, weight: 0}]"),
        weights: [GAMMAWeights(name: "Requests should have a distribution that matches the weight", client: .v1, request: grpc("echo:7070"),
                               expected: ["echo-v1": 0.7, "echo-v2": 0.3])]
    )
}
