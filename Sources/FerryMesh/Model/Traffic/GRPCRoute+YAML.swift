/// Reading a GRPCRoute, on the same terms as an HTTPRoute: what the API
/// server would refuse is refused with file and line, valid Gateway API that
/// Ferry does not implement is kept as a problem for route status.
extension GRPCRoute {
    static let apiVersions: Set<String> = ["gateway.networking.k8s.io/v1"]
    static let specFields: Set<String> = ["parentRefs", "hostnames", "rules"]
    static let ruleFields: Set<String> = ["name", "matches", "filters", "backendRefs", "sessionPersistence"]
    static let matchFields: Set<String> = ["method", "headers"]

    init(document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root)
        guard let specField = document["spec"], !specField.isNull else { throw root.error("GRPCRoute \(meta.name): spec is required") }
        let spec = try specField.fields(allowing: Self.specFields)
        let parentRefs = try spec.list("parentRefs")
        guard !parentRefs.isEmpty else {
            throw specField.error("spec.parentRefs is required: name the Service whose traffic this route manages")
        }
        self.init(
            name: meta.name, namespace: meta.namespace, creationTimestamp: meta.creationTimestamp,
            parentRefs: try parentRefs.map { try HTTPRoute.parentRef($0, routeNamespace: meta.namespace) },
            hostnames: try spec.list("hostnames").map(HTTPRoute.hostname),
            rules: try spec.list("rules").map { try Self.rule($0, routeNamespace: meta.namespace) }
        )
    }

    static func rule(_ field: YAMLField, routeNamespace: String) throws -> Rule {
        let fields = try field.fields(allowing: ruleFields)
        var problems: [ResourceError] = []
        if fields["sessionPersistence"] != nil {
            problems.append(field.error("\(field.path).sessionPersistence is not supported: Ferry does not keep sessions (use a DestinationRule consistentHash)",
                                        atKey: "sessionPersistence"))
        }
        let types = HTTPRoute.grpcFilterTypes
        let (filters, filterProblems) = try HTTPRoute.filters(fields["filters"], of: types, matches: [], routeNamespace: routeNamespace)
        problems += filterProblems
        let backendRefs = try fields.list("backendRefs").map {
            try HTTPRoute.backendRef($0, filterTypes: types, matches: [], routeNamespace: routeNamespace, problems: &problems)
        }
        return Rule(name: try fields.string("name"), matches: try fields.list("matches").map(match), filters: filters,
                    backendRefs: backendRefs, problems: problems)
    }

    static func match(_ field: YAMLField) throws -> GRPCRouteMatch {
        let fields = try field.fields(allowing: matchFields)
        var match = GRPCRouteMatch()
        if let methodField = fields["method"], !methodField.isNull {
            match.method = try method(methodField)
        }
        // Names compare without case, and the first entry of a name is the
        // one that counts: later ones are ignored (Gateway API).
        var seen: Set<String> = []
        for item in try fields.list("headers") {
            let entry = try item.fields(allowing: ["type", "name", "value"])
            let name = try HTTPRoute.headerName(try entry.requiredString("name", in: item), item).lowercased()
            guard let valueField = entry["value"], !valueField.isNull, !(try valueField.string()).isEmpty else {
                throw item.error("\(item.path).value is required")
            }
            let value: ValueMatch
            switch try entry.string("type") ?? "Exact" {
            case "Exact": value = .exact(try valueField.string())
            case "RegularExpression": value = .regularExpression(try valueField.regex())
            case let other: throw item.error("\(item.path).type '\(other)' is not one of Exact, RegularExpression", atKey: "type")
            }
            if seen.insert(name).inserted { match.headers.append(NamedValueMatch(name: name, value: value)) }
        }
        return match
    }

    /// Exact names are checked as the API server checks them (a service is a
    /// dotted name, a method an identifier, neither holds '/').
    static func method(_ field: YAMLField) throws -> GRPCMethodMatch {
        let fields = try field.fields(allowing: ["type", "service", "method"])
        let type = try fields.string("type") ?? "Exact"
        guard type == "Exact" || type == "RegularExpression" else {
            throw field.error("\(field.path).type '\(type)' is not one of Exact, RegularExpression", atKey: "type")
        }
        func value(_ key: String, exactPattern: CompiledRegex) throws -> ValueMatch? {
            guard let valueField = fields[key], !valueField.isNull else { return nil }
            let text = try valueField.string()
            if text.isEmpty { return nil }
            guard text.utf8.count <= 1024 else { throw valueField.error("\(valueField.path) is longer than 1024 characters") }
            if type == "RegularExpression" { return .regularExpression(try valueField.regex()) }
            guard exactPattern.wholeMatch(text) else {
                throw valueField.error("\(valueField.path) '\(text)' is not a valid gRPC \(key) name")
            }
            return .exact(text)
        }
        let match = GRPCMethodMatch(service: try value("service", exactPattern: Self.serviceName),
                                    method: try value("method", exactPattern: Self.methodName))
        guard match.service != nil || match.method != nil else {
            throw field.error("\(field.path): give a service, a method or both")
        }
        return match
    }

    static let serviceName = try! CompiledRegex("(?i)\\.?[a-z_][a-z_0-9]*(\\.[a-z_][a-z_0-9]*)*")
    static let methodName = try! CompiledRegex("[A-Za-z_][A-Za-z_0-9]*")
}
