/// Reading `filters` of a rule or a backendRef. A filter's `type` names the
/// one config block it carries. A type outside the route kind's enum is
/// refused (the API server would refuse it); a type in it that Ferry does not
/// implement becomes a problem of the rule or backend that holds it.
extension HTTPRoute {
    static let filterFields: Set<String> = [
        "type", "requestHeaderModifier", "responseHeaderModifier", "urlRewrite", "requestMirror",
        "requestRedirect", "extensionRef", "cors", "externalAuth",
    ]
    static let supportedFilters: [String: String] = [
        "RequestHeaderModifier": "requestHeaderModifier", "ResponseHeaderModifier": "responseHeaderModifier",
        "URLRewrite": "urlRewrite", "RequestRedirect": "requestRedirect", "RequestMirror": "requestMirror",
    ]
    static let unsupportedFilters: [String: String] = ["ExtensionRef": "extensionRef", "CORS": "cors", "ExternalAuth": "externalAuth"]
    /// The filter types each route kind's schema allows (standard and experimental channels).
    static let httpFilterTypes: Set<String> = [
        "RequestHeaderModifier", "ResponseHeaderModifier", "URLRewrite", "RequestRedirect", "RequestMirror",
        "ExtensionRef", "CORS", "ExternalAuth",
    ]
    static let grpcFilterTypes: Set<String> = ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "ExtensionRef"]

    /// A `filters` list: the filters Ferry applies, and one problem for each
    /// it does not implement. The list is checked as the API server checks it.
    static func filters(_ listField: YAMLField?, of types: Set<String>, matches: [HTTPRouteMatch], routeNamespace: String) throws
        -> (filters: [HTTPRouteFilter], problems: [ResourceError]) {
        guard let listField else { return ([], []) }
        var filters: [HTTPRouteFilter] = []
        var items: [YAMLField] = []
        var problems: [ResourceError] = []
        for item in try listField.list() {
            switch try filter(item, of: types, routeNamespace: routeNamespace) {
            case .supported(let filter):
                filters.append(filter)
                items.append(item)
            case .unsupported(let problem): problems.append(problem)
            }
        }
        try checkFilters(filters, items: items, matches: matches)
        return (filters, problems)
    }

    enum ReadFilter {
        case supported(HTTPRouteFilter)
        case unsupported(ResourceError)
    }

    static func filter(_ field: YAMLField, of types: Set<String>, routeNamespace: String) throws -> ReadFilter {
        let fields = try field.fields(allowing: filterFields)
        let type = try fields.requiredString("type", in: field)
        guard types.contains(type), let blockKey = supportedFilters[type] ?? unsupportedFilters[type] else {
            throw field.error("\(field.path).type '\(type)' is not a filter type (\(types.sorted().joined(separator: ", ")))", atKey: "type")
        }
        for key in fields.keys where key != "type" && key != blockKey {
            throw field.error("\(field.path).\(key) does not belong to a filter of type \(type)", atKey: key)
        }
        let block = try fields.required(blockKey, in: field)
        switch type {
        case "RequestHeaderModifier": return .supported(.requestHeaderModifier(try headerModifier(block)))
        case "ResponseHeaderModifier": return .supported(.responseHeaderModifier(try headerModifier(block)))
        case "URLRewrite": return .supported(.urlRewrite(try urlRewrite(block)))
        case "RequestRedirect": return .supported(.requestRedirect(try requestRedirect(block)))
        case "RequestMirror": return .supported(.requestMirror(try requestMirror(block, routeNamespace: routeNamespace)))
        default:
            let supported = supportedFilters.keys.filter(types.contains).sorted().joined(separator: ", ")
            return .unsupported(field.error("\(field.path).type \(type) is not supported by Ferry (supported: \(supported))", atKey: "type"))
        }
    }

    static func headerModifier(_ field: YAMLField) throws -> HeaderModifier {
        let fields = try field.fields(allowing: ["set", "add", "remove"])
        func headerFields(_ key: String) throws -> [HTTPHeaderField] {
            var seen: Set<String> = []
            return try fields.list(key).map { item in
                let entry = try item.fields(allowing: ["name", "value"])
                let name = try headerName(try entry.requiredString("name", in: item), item)
                guard seen.insert(name.lowercased()).inserted else {
                    throw item.error("\(item.path).name '\(name)' appears twice in \(key)")
                }
                return HTTPHeaderField(name: name, value: try entry.string("value") ?? "")
            }
        }
        var removed: Set<String> = []
        let remove = try fields.list("remove").map { item in
            let name = try headerName(try item.string(), item)
            guard removed.insert(name.lowercased()).inserted else { throw item.error("\(item.path): '\(name)' appears twice in remove") }
            return name
        }
        return HeaderModifier(set: try headerFields("set"), add: try headerFields("add"), remove: remove)
    }

    /// An HTTP token (RFC 9110): what a header name may hold.
    static func headerName(_ name: String, _ field: YAMLField) throws -> String {
        let allowed = Set("!#$%&'*+-.^_`|~")
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || allowed.contains($0)) }) else {
            throw field.error("\(field.path): '\(name)' is not a valid header name")
        }
        return name
    }

    static func urlRewrite(_ field: YAMLField) throws -> URLRewrite {
        let fields = try field.fields(allowing: ["hostname", "path"])
        return URLRewrite(hostname: try preciseHostname(fields["hostname"], of: "rewrite"), path: try pathModifier(fields["path"]))
    }

    static func requestRedirect(_ field: YAMLField) throws -> RequestRedirect {
        let fields = try field.fields(allowing: ["scheme", "hostname", "path", "port", "statusCode"])
        var redirect = RequestRedirect(hostname: try preciseHostname(fields["hostname"], of: "redirect"), path: try pathModifier(fields["path"]))
        if let schemeField = fields["scheme"], !schemeField.isNull {
            let text = try schemeField.string()
            guard let scheme = RequestRedirect.Scheme(rawValue: text) else {
                throw schemeField.error("\(schemeField.path) '\(text)' is not one of http, https")
            }
            redirect.scheme = scheme
        }
        redirect.port = try fields.int("port", in: 1...65535)
        if let status = try fields.int("statusCode", in: 100...599) {
            guard RequestRedirect.statusCodes.contains(status) else {
                let allowed = RequestRedirect.statusCodes.sorted().map(String.init).joined(separator: ", ")
                throw (fields["statusCode"] ?? field).error("\(field.path).statusCode \(status) is not a redirect status (\(allowed))")
            }
            redirect.statusCode = status
        }
        return redirect
    }

    /// A filter's `hostname`: one name, never a wildcard.
    static func preciseHostname(_ field: YAMLField?, of filter: String) throws -> String? {
        guard let field, !field.isNull else { return nil }
        let host = try hostname(field)
        guard !host.hasPrefix("*.") else { throw field.error("\(field.path): a \(filter) hostname cannot be a wildcard") }
        return host
    }

    /// HTTPPathModifier, shared by URLRewrite and RequestRedirect.
    static func pathModifier(_ field: YAMLField?) throws -> HTTPPathModifier? {
        guard let field, !field.isNull else { return nil }
        let path = try field.fields(allowing: ["type", "replaceFullPath", "replacePrefixMatch"])
        let type = try path.requiredString("type", in: field)
        let key: String
        switch type {
        case "ReplaceFullPath": key = "replaceFullPath"
        case "ReplacePrefixMatch": key = "replacePrefixMatch"
        default:
            throw field.error("\(field.path).type '\(type)' is not one of ReplaceFullPath, ReplacePrefixMatch", atKey: "type")
        }
        let value = try path.string(key) ?? "/"
        guard value.hasPrefix("/") else {
            throw (path[key] ?? field).error("\(field.path).\(key) '\(value)' must start with '/'")
        }
        return key == "replaceFullPath" ? .replaceFullPath(value) : .replacePrefixMatch(value)
    }

    static func requestMirror(_ field: YAMLField, routeNamespace: String) throws -> RequestMirror {
        let fields = try field.fields(allowing: ["backendRef", "percent", "fraction"])
        let refField = try fields.required("backendRef", in: field)
        let ref = try refField.fields(allowing: backendRefFields.subtracting(["weight", "filters"]))
        let (service, port, kind) = try serviceReference(refField, fields: ref, routeNamespace: routeNamespace)
        var fraction = 1.0
        if fields["percent"] != nil && fields["fraction"] != nil {
            throw field.error("\(field.path): write percent or fraction, not both")
        }
        if let percent = try fields.int("percent", in: 0...100) { fraction = Double(percent) / 100 }
        if let fractionField = fields["fraction"] {
            let parts = try fractionField.fields(allowing: ["numerator", "denominator"])
            guard let numerator = try parts.int("numerator", in: 0...Int(Int32.max)) else {
                throw fractionField.error("\(fractionField.path).numerator is required")
            }
            let denominator = try parts.int("denominator", in: 1...Int(Int32.max)) ?? 100
            guard numerator <= denominator else {
                throw fractionField.error("\(fractionField.path): numerator must not exceed denominator")
            }
            fraction = Double(numerator) / Double(denominator)
        }
        return RequestMirror(service: service, port: port, fraction: fraction, kind: kind)
    }

    /// At most one of each modifier per list, not both URLRewrite and
    /// RequestRedirect, and ReplacePrefixMatch only where every match is a
    /// PathPrefix (there is no matched prefix to replace otherwise).
    static func checkFilters(_ filters: [HTTPRouteFilter], items: [YAMLField], matches: [HTTPRouteMatch]) throws {
        var seen: Set<String> = []
        for (filter, item) in zip(filters, items) {
            let kind: String
            let path: HTTPPathModifier?
            switch filter {
            case .requestHeaderModifier: (kind, path) = ("RequestHeaderModifier", nil)
            case .responseHeaderModifier: (kind, path) = ("ResponseHeaderModifier", nil)
            case .urlRewrite(let rewrite): (kind, path) = ("URLRewrite", rewrite.path)
            case .requestRedirect(let redirect): (kind, path) = ("RequestRedirect", redirect.path)
            case .requestMirror: continue
            }
            if case .replacePrefixMatch = path {
                let prefixOnly = matches.allSatisfy { if case .prefix = $0.path { true } else { false } }
                guard prefixOnly else {
                    throw item.error("\(item.path): ReplacePrefixMatch needs every match of the rule to be a PathPrefix")
                }
            }
            guard seen.insert(kind).inserted else { throw item.error("\(item.path): \(kind) appears twice in one list of filters") }
            guard !seen.isSuperset(of: ["URLRewrite", "RequestRedirect"]) else {
                throw item.error("\(item.path): a rule takes URLRewrite or RequestRedirect, not both")
            }
        }
    }
}
