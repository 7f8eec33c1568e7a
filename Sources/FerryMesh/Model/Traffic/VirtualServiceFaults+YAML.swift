/// Reading a VirtualService for its faults. Routing fields are refused with a
/// pointer to HTTPRoute; the one route Istio requires beside a fault, a single
/// destination back to the VirtualService's own host, is accepted because it
/// routes nowhere new.
extension VirtualServiceFaults {
    static let apiVersions: Set<String> = [
        "networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3",
    ]
    static let routingRefusal = "only fault injection is supported; use HTTPRoute for routing"
    static let routingFields: Set<String> = [
        "redirect", "directResponse", "delegate", "rewrite", "timeout", "retries", "mirror", "mirrors",
        "mirrorPercentage", "mirrorPercent", "mirror_percent", "corsPolicy", "headers",
    ]
    static let matchFields: Set<String> = [
        "uri", "headers", "name", "scheme", "method", "authority", "port", "sourceLabels", "gateways", "queryParams",
        "ignoreUriCase", "withoutHeaders", "sourceNamespace", "statPrefix",
    ]

    init(document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root)
        guard let specField = document["spec"], !specField.isNull else {
            throw root.error("VirtualService \(meta.name): spec is required")
        }
        let spec = try specField.fields(allowing: ["hosts", "gateways", "http", "tcp", "tls", "exportTo"])
        try spec.refuse(["tcp", "tls"], in: specField) { _ in Self.routingRefusal }
        try spec.refuse(["exportTo"], in: specField) { _ in "faults apply to every client of the host in Ferry" }
        if let gateways = spec["gateways"], try gateways.stringList() != ["mesh"] && !gateways.stringList().isEmpty {
            throw specField.error("spec.gateways is not supported: Ferry has no gateways (only 'mesh' is accepted)", atKey: "gateways")
        }
        let hostFields = try spec.list("hosts")
        guard !hostFields.isEmpty else { throw specField.error("spec.hosts is required: name the Service to inject faults into") }
        let hosts = try hostFields.map { try ServiceName.istioHost($0, namespace: meta.namespace) }
        self.init(name: meta.name, namespace: meta.namespace, creationTimestamp: meta.creationTimestamp, hosts: hosts,
                  rules: try spec.list("http").map { try Self.rule($0, hosts: hosts, namespace: meta.namespace) })
    }

    static func rule(_ field: YAMLField, hosts: [ServiceName], namespace: String) throws -> FaultRule {
        let fields = try field.fields(allowing: Set(["name", "match", "fault", "route"]).union(routingFields))
        try fields.refuse(routingFields, in: field) { _ in routingRefusal }
        if let route = fields["route"] { try checkRouteToSelf(route, in: field, hosts: hosts, namespace: namespace) }
        var rule = FaultRule(name: try fields.string("name"), matches: try fields.list("match").map(match))
        if let faultField = fields["fault"], !faultField.isNull {
            let fault = try faultField.fields(allowing: ["delay", "abort"])
            rule.delay = try fault["delay"].map(delay)
            rule.abort = try fault["abort"].map(abort)
            if rule.delay == nil && rule.abort == nil { throw faultField.error("\(faultField.path) needs delay or abort") }
        }
        return rule
    }

    /// `route: [{destination: {host: <own host>}}]` is what Istio requires next
    /// to a fault; any other route would be routing.
    static func checkRouteToSelf(_ field: YAMLField, in rule: YAMLField, hosts: [ServiceName], namespace: String) throws {
        let routes = try field.list()
        guard routes.count == 1 else { throw rule.error("\(field.path): \(routingRefusal)", atKey: "route") }
        let entry = try routes[0].fields()
        guard Set(entry.keys).isSubset(of: ["destination", "weight"]), (try entry.int("weight") ?? 100) == 100,
              let destinationField = entry["destination"] else {
            throw routes[0].error("\(routes[0].path): \(routingRefusal)")
        }
        let destination = try destinationField.fields()
        guard Set(destination.keys).isSubset(of: ["host", "port"]), let hostField = destination["host"],
              hosts.contains(try ServiceName.istioHost(hostField, namespace: namespace)) else {
            throw destinationField.error("\(destinationField.path): \(routingRefusal)")
        }
    }

    static func match(_ field: YAMLField) throws -> FaultMatch {
        let fields = try field.fields(allowing: matchFields)
        try fields.refuse(matchFields.subtracting(["uri", "headers", "name"]), in: field) { _ in
            "fault matches support uri and headers"
        }
        var match = FaultMatch(uri: try fields["uri"].map(stringMatch))
        for (name, valueField) in try fields.fields("headers").sorted(by: { $0.key < $1.key }) {
            match.headers.append(NamedValueMatch(name: name.lowercased(), value: try stringMatch(valueField)))
        }
        return match
    }

    /// Istio's StringMatch: exactly one of exact, prefix, regex.
    static func stringMatch(_ field: YAMLField) throws -> ValueMatch {
        let fields = try field.fields(allowing: ["exact", "prefix", "regex"])
        guard fields.count == 1, let entry = fields.first else {
            throw field.error("\(field.path) needs exactly one of exact, prefix, regex")
        }
        switch entry.key {
        case "exact": return .exact(try entry.value.string())
        case "prefix": return .prefix(try entry.value.string())
        default: return .regularExpression(try entry.value.regex())
        }
    }

    static func delay(_ field: YAMLField) throws -> FaultDelay {
        let fields = try field.fields(allowing: ["fixedDelay", "percentage", "percent", "exponentialDelay"])
        try fields.refuse(["exponentialDelay"], in: field) { _ in "use fixedDelay" }
        guard let fixed = fields["fixedDelay"], !fixed.isNull else { throw field.error("\(field.path).fixedDelay is required") }
        return FaultDelay(fixedDelay: try fixed.istioDuration(), percentage: try percentage(field, fields))
    }

    static func abort(_ field: YAMLField) throws -> FaultAbort {
        let fields = try field.fields(allowing: ["httpStatus", "grpcStatus", "http2Error", "percentage", "percent"])
        try fields.refuse(["grpcStatus", "http2Error"], in: field) { _ in "abort with httpStatus" }
        guard let status = try fields.int("httpStatus", in: 200...599) else {
            throw field.error("\(field.path).httpStatus is required")
        }
        return FaultAbort(httpStatus: status, percentage: try percentage(field, fields))
    }

    /// `percentage.value` (0-100) or the older integer `percent`. One must be
    /// written: Istio documented an omitted percentage as 100% while its proxy
    /// applied 0% (istio/istio#36303), so an omission has no safe reading.
    static func percentage(_ field: YAMLField, _ fields: [String: YAMLField]) throws -> Double {
        if fields["percentage"] != nil && fields["percent"] != nil {
            throw field.error("\(field.path): write percentage or percent, not both")
        }
        if let percent = try fields.int("percent", in: 0...100) { return Double(percent) }
        guard let percentageField = fields["percentage"], !percentageField.isNull else {
            throw field.error("\(field.path).percentage is required (Istio's documented and actual defaults differ)")
        }
        guard let valueField = try percentageField.fields(allowing: ["value"])["value"] else {
            throw percentageField.error("\(percentageField.path).value is required")
        }
        let value = try valueField.double()
        guard (0...100).contains(value) else { throw valueField.error("\(valueField.path): \(value) is not within 0-100") }
        return value
    }
}
