/// Reading an HTTPRoute. What the API server's own validation would refuse
/// (unknown fields, values outside an enum, unique header names,
/// ReplacePrefixMatch only with PathPrefix, backendRequest within request) is
/// refused here too, with file and line. Valid Gateway API that Ferry does not
/// implement (a Gateway parent, a ServiceImport backend, an ExtensionRef or
/// CORS filter, sessionPersistence) is kept and recorded, so the route shows
/// it in its status and answers what it cannot carry out with an error, as
/// a Gateway API controller does; GRPCRoute shares these readers.
extension HTTPRoute {
    static let apiVersions: Set<String> = ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"]
    static let specFields: Set<String> = ["parentRefs", "hostnames", "rules"]
    static let parentRefFields: Set<String> = ["group", "kind", "namespace", "name", "sectionName", "port"]
    static let ruleFields: Set<String> = ["name", "matches", "filters", "backendRefs", "timeouts", "retry", "sessionPersistence"]
    static let matchFields: Set<String> = ["path", "headers", "queryParams", "method"]
    static let backendRefFields: Set<String> = ["group", "kind", "namespace", "name", "port", "weight", "filters"]
    static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]

    init(document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root)
        guard let specField = document["spec"], !specField.isNull else { throw root.error("HTTPRoute \(meta.name): spec is required") }
        let spec = try specField.fields(allowing: Self.specFields)
        let parentRefs = try spec.list("parentRefs")
        guard !parentRefs.isEmpty else {
            throw specField.error("spec.parentRefs is required: name the Service whose traffic this route manages")
        }
        self.init(
            name: meta.name, namespace: meta.namespace, creationTimestamp: meta.creationTimestamp,
            parentRefs: try parentRefs.map { try Self.parentRef($0, routeNamespace: meta.namespace) },
            hostnames: try spec.list("hostnames").map(Self.hostname),
            rules: try spec.list("rules").map { try Self.rule($0, routeNamespace: meta.namespace) }
        )
    }

    /// GAMMA parents are Services (core group). Kind defaults to Gateway and
    /// group to gateway.networking.k8s.io when omitted, so both must be
    /// written; a parent of another kind is kept and reported in route status
    /// (NoMatchingParent), since it is valid Gateway API that Ferry, a mesh
    /// without Gateways, does not attach to.
    static func parentRef(_ field: YAMLField, routeNamespace: String) throws -> ParentRef {
        let fields = try field.fields(allowing: parentRefFields)
        let kind = try fields.string("kind") ?? "Gateway"
        let group = try fields.string("group") ?? "gateway.networking.k8s.io"
        let name = try fields.requiredString("name", in: field)
        return ParentRef(
            service: ServiceName(name: name, namespace: try fields.string("namespace") ?? routeNamespace),
            port: try fields.int("port", in: 1...65535),
            sectionName: try fields.string("sectionName"),
            kind: ReferentKind(group: group, kind: kind)
        )
    }

    /// RFC 1123 names, optionally with a leading "*." label; no IPs, no ports.
    static func hostname(_ field: YAMLField) throws -> String {
        let text = try field.string().lowercased()
        let body = text.hasPrefix("*.") ? String(text.dropFirst(2)) : text
        let labels = body.split(separator: ".", omittingEmptySubsequences: false)
        let valid = !body.isEmpty && body.count <= 253 && labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
        guard valid, IPAddress(body) == nil else {
            throw field.error("\(field.path): '\(text)' is not a hostname (letters, digits, '-' and '.', optionally starting with '*.'; no IP or port)")
        }
        return text
    }

    static func rule(_ field: YAMLField, routeNamespace: String) throws -> Rule {
        let fields = try field.fields(allowing: ruleFields)
        var problems: [ResourceError] = []
        if fields["sessionPersistence"] != nil {
            problems.append(field.error("\(field.path).sessionPersistence is not supported: Ferry does not keep sessions (use a DestinationRule consistentHash)",
                                        atKey: "sessionPersistence"))
        }
        let matches = try fields.list("matches").map(match)
        let (filters, filterProblems) = try Self.filters(fields["filters"], of: httpFilterTypes, matches: matches, routeNamespace: routeNamespace)
        problems += filterProblems
        let backendRefs = try fields.list("backendRefs").map {
            try backendRef($0, filterTypes: httpFilterTypes, matches: matches, routeNamespace: routeNamespace, problems: &problems)
        }
        return Rule(
            name: try fields.string("name"),
            matches: matches,
            filters: filters,
            backendRefs: backendRefs,
            timeouts: try fields["timeouts"].map(timeouts) ?? Timeouts(),
            retry: try fields["retry"].flatMap { $0.isNull ? nil : try retry($0) },
            problems: problems
        )
    }

    static func match(_ field: YAMLField) throws -> HTTPRouteMatch {
        let fields = try field.fields(allowing: matchFields)
        var match = HTTPRouteMatch()
        if let pathField = fields["path"], !pathField.isNull {
            match.path = try path(pathField)
        }
        match.headers = try namedMatches(fields["headers"], lowercasingNames: true)
        match.queryParams = try namedMatches(fields["queryParams"], lowercasingNames: false)
        if let methodField = fields["method"], let method = try fields.string("method") {
            guard methods.contains(method) else {
                throw methodField.error("\(methodField.path) '\(method)' is not one of \(methods.sorted().joined(separator: ", "))")
            }
            match.method = method
        }
        return match
    }

    static func path(_ field: YAMLField) throws -> HTTPRouteMatch.PathMatch {
        let fields = try field.fields(allowing: ["type", "value"])
        let type = try fields.string("type") ?? "PathPrefix"
        let valueField = fields["value"]
        let value = try fields.string("value") ?? "/"
        switch type {
        case "Exact", "PathPrefix":
            guard value.hasPrefix("/") else {
                throw (valueField ?? field).error("\(field.path).value '\(value)' must start with '/'")
            }
            if type == "Exact" { return .exact(value) }
            return .prefix(value.hasSuffix("/") ? String(value.dropLast()) : value)
        case "RegularExpression":
            guard let valueField else { throw field.error("\(field.path).value is required for RegularExpression") }
            return .regularExpression(try valueField.regex())
        default:
            throw field.error("\(field.path).type '\(type)' is not one of Exact, PathPrefix, RegularExpression", atKey: "type")
        }
    }

    /// `headers` or `queryParams`: Exact or RegularExpression, one entry per name
    /// (the API server keys these lists by name).
    static func namedMatches(_ listField: YAMLField?, lowercasingNames: Bool) throws -> [NamedValueMatch] {
        guard let listField else { return [] }
        var seen: Set<String> = []
        return try listField.list().map { item in
            let fields = try item.fields(allowing: ["type", "name", "value"])
            let written = try fields.requiredString("name", in: item)
            let name = lowercasingNames ? written.lowercased() : written
            guard seen.insert(name).inserted else {
                throw item.error("\(item.path).name '\(written)' is matched twice; each name may appear once")
            }
            guard let valueField = fields["value"], !valueField.isNull else { throw item.error("\(item.path).value is required") }
            switch try fields.string("type") ?? "Exact" {
            case "Exact": return NamedValueMatch(name: name, value: .exact(try valueField.string()))
            case "RegularExpression": return NamedValueMatch(name: name, value: .regularExpression(try valueField.regex()))
            case let other:
                throw item.error("\(item.path).type '\(other)' is not one of Exact, RegularExpression", atKey: "type")
            }
        }
    }

    /// What a backendRef or a mirror's backendRef names. The namespace may be
    /// any: GAMMA lets mesh routes reach backends in every namespace without
    /// a ReferenceGrant (GEP-1294), since a route only steers requests the
    /// client could send there itself, and the destination's policy still
    /// judges them. Port is required for a Service (the API server's rule).
    static func serviceReference(_ field: YAMLField, fields: [String: YAMLField], routeNamespace: String) throws
        -> (ServiceName, Int, ReferentKind) {
        let kind = ReferentKind(group: try fields.string("group") ?? "", kind: try fields.string("kind") ?? "Service")
        let name = try fields.requiredString("name", in: field)
        let namespace = try fields.string("namespace") ?? routeNamespace
        let port = try fields.int("port", in: 1...65535)
        guard port != nil || kind != .service else {
            throw field.error("\(field.path).port is required for a Service backend")
        }
        return (ServiceName(name: name, namespace: namespace), port ?? 0, kind)
    }

    /// A backendRef with its own filters (for requests sent to it only). An
    /// unsupported filter there joins the rule's `problems`.
    static func backendRef(_ field: YAMLField, filterTypes: Set<String>, matches: [HTTPRouteMatch], routeNamespace: String,
                           problems: inout [ResourceError]) throws -> BackendRef {
        let fields = try field.fields(allowing: backendRefFields)
        let (service, port, kind) = try serviceReference(field, fields: fields, routeNamespace: routeNamespace)
        let (filters, filterProblems) = try Self.filters(fields["filters"], of: filterTypes, matches: matches, routeNamespace: routeNamespace)
        problems += filterProblems
        return BackendRef(service: service, port: port, weight: try fields.int("weight", in: 0...1_000_000) ?? 1,
                          filters: filters, kind: kind)
    }

    static func timeouts(_ field: YAMLField) throws -> Timeouts {
        let fields = try field.fields(allowing: ["request", "backendRequest"])
        let request = try fields["request"].map { try $0.gatewayDuration() }
        let backend = try fields["backendRequest"].map { try $0.gatewayDuration() }
        if let request, let backend, request != .zero, backend > request {
            throw field.error("\(field.path).backendRequest must not be longer than request", atKey: "backendRequest")
        }
        // Zero disables a timeout.
        return Timeouts(request: request == .zero ? nil : request, backendRequest: backend == .zero ? nil : backend)
    }

    static func retry(_ field: YAMLField) throws -> Retry {
        let fields = try field.fields(allowing: ["codes", "attempts", "backoff"])
        return Retry(
            codes: try fields.list("codes").map { try $0.int(in: 400...599) },
            attempts: try fields.int("attempts", in: 0...1000),
            backoff: try fields["backoff"].map { try $0.gatewayDuration() }
        )
    }
}
