/// Reading an AuthorizationPolicy document. Istio's own validation rules are
/// applied (empty sources, operations and values are errors), and everything
/// Ferry cannot enforce is refused by name rather than silently ignored: a
/// policy that is half-enforced is worse than one that is rejected.
extension AuthorizationPolicy {
    static let apiVersions: Set<String> = ["security.istio.io/v1", "security.istio.io/v1beta1"]
    static let dryRunAnnotation = "istio.io/dry-run"

    static let specFields: Set<String> = ["selector", "targetRef", "targetRefs", "action", "provider", "rules"]
    static let ruleFields: Set<String> = ["from", "to", "when"]
    static let sourceFields: Set<String> = [
        "principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals", "namespaces", "notNamespaces",
        "ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks",
    ]
    static let operationFields: Set<String> = [
        "hosts", "notHosts", "ports", "notPorts", "methods", "notMethods", "paths", "notPaths",
    ]

    init(document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root)
        if meta.annotations[Self.dryRunAnnotation]?.lowercased() == "true" {
            let annotations = try document["metadata"]!.fields()["annotations"]!
            throw annotations.error("annotation \(Self.dryRunAnnotation) is not supported: Ferry would enforce this policy, not dry-run it",
                                    atKey: Self.dryRunAnnotation)
        }
        let specField = document["spec"] ?? root
        let spec = try document["spec"]?.fields(allowing: Self.specFields) ?? [:]

        var action = Action.allow
        if let text = try spec.string("action") {
            if text == "CUSTOM" {
                throw specField.error("spec.action: CUSTOM is not supported: Ferry has no external authorizer", atKey: "action")
            }
            guard let parsed = Action(rawValue: text) else {
                throw specField.error("spec.action '\(text)' is not one of ALLOW, DENY, AUDIT", atKey: "action")
            }
            action = parsed
        }
        if spec["provider"] != nil {
            throw specField.error("spec.provider is only used with action CUSTOM, which Ferry does not support", atKey: "provider")
        }
        for key in ["targetRef", "targetRefs"] where spec[key] != nil {
            throw specField.error(
                "spec.\(key) is not supported: Ferry applies policies to workloads by namespace and selector (it has no gateways or waypoints to target)",
                atKey: key)
        }
        self.init(
            name: meta.name, namespace: meta.namespace,
            selector: try spec["selector"]?.workloadSelector() ?? [:],
            action: action,
            rules: try spec.list("rules").map(Self.rule)
        )
    }

    static func rule(_ field: YAMLField) throws -> Rule {
        let fields = try field.fields(allowing: ruleFields)
        for key in ["from", "to"] { try fields.requireNonEmptyIfPresent(key, in: field) }
        return Rule(
            from: try fields.list("from").map { try source(required: $0, key: "source") },
            to: try fields.list("to").map { try operation(required: $0, key: "operation") },
            when: try fields.list("when").map(condition)
        )
    }

    /// `- source: {…}`: the wrapper must hold a source, and the source a field.
    static func source(required wrapper: YAMLField, key: String) throws -> Source {
        guard let field = try wrapper.fields(allowing: [key])[key], !field.isNull else {
            throw wrapper.error("\(wrapper.path).\(key) is required")
        }
        let fields = try field.fields(allowing: sourceFields)
        for jwtField in ["requestPrincipals", "notRequestPrincipals"] where fields[jwtField] != nil {
            throw field.error("\(field.path).\(jwtField): requestPrincipals needs JWT authentication, which Ferry does not support",
                              atKey: jwtField)
        }
        let source = Source(
            principals: try fields.attributeMatch("principals", "notPrincipals") { try $0.patterns() },
            namespaces: try fields.attributeMatch("namespaces", "notNamespaces") { try $0.patterns() },
            ipBlocks: try fields.attributeMatch("ipBlocks", "notIpBlocks") { try $0.cidrs() },
            remoteIPBlocks: try fields.attributeMatch("remoteIpBlocks", "notRemoteIpBlocks") { try $0.cidrs() }
        )
        if source.principals.isEmpty && source.namespaces.isEmpty && source.ipBlocks.isEmpty && source.remoteIPBlocks.isEmpty {
            throw field.error("\(field.path) must not be empty")
        }
        return source
    }

    static func operation(required wrapper: YAMLField, key: String) throws -> Operation {
        guard let field = try wrapper.fields(allowing: [key])[key], !field.isNull else {
            throw wrapper.error("\(wrapper.path).\(key) is required")
        }
        let fields = try field.fields(allowing: operationFields)
        let operation = Operation(
            hosts: try fields.attributeMatch("hosts", "notHosts") { try $0.patterns() },
            ports: try fields.attributeMatch("ports", "notPorts") { try $0.ports() },
            methods: try fields.attributeMatch("methods", "notMethods") { try $0.patterns() },
            paths: try fields.attributeMatch("paths", "notPaths") { try $0.pathPatterns() }
        )
        if operation.hosts.isEmpty && operation.ports.isEmpty && operation.methods.isEmpty && operation.paths.isEmpty {
            throw field.error("\(field.path) must not be empty")
        }
        return operation
    }
}

extension YAMLField {
    /// Paths are patterns too; Istio's newer path templates ("/a/{*}/b") are not
    /// implemented, and read literally they would never match, so they are refused.
    func pathPatterns() throws -> [StringMatch] {
        for item in try list() {
            let text = try item.string()
            if text.contains("{*}") || text.contains("{**}") {
                throw item.error("\(item.path): path templates such as '\(text)' are not supported")
            }
        }
        return try patterns()
    }
}
