/// Reading `when` entries: the keys of Istio's condition table that Ferry can
/// see. Keys that need something Ferry does not have (JWT, SNI, Envoy filter
/// metadata) are refused with the reason, and unknown keys are typos.
extension AuthorizationPolicy {
    static let conditionFields: Set<String> = ["key", "values", "notValues"]
    static let supportedConditionKeys = [
        "source.ip", "remote.ip", "source.namespace", "source.principal", "destination.ip", "destination.port",
        "request.headers[<name>]",
    ]

    static func condition(_ field: YAMLField) throws -> Condition {
        let fields = try field.fields(allowing: conditionFields)
        let key = try fields.requiredString("key", in: field)
        let hasValues = try !(fields["values"]?.list().isEmpty ?? true)
        let hasNotValues = try !(fields["notValues"]?.list().isEmpty ?? true)
        guard hasValues || hasNotValues else {
            throw field.error("\(field.path): condition '\(key)' needs values or notValues")
        }
        func unsupported(_ why: String) -> ResourceError {
            field.error("\(field.path).key '\(key)' is not supported: \(why)", atKey: "key")
        }
        switch key {
        case "source.ip": return .sourceIP(try fields.attributeMatch("values", "notValues") { try $0.cidrs() })
        case "remote.ip": return .remoteIP(try fields.attributeMatch("values", "notValues") { try $0.cidrs() })
        case "destination.ip": return .destinationIP(try fields.attributeMatch("values", "notValues") { try $0.cidrs() })
        case "destination.port": return .destinationPort(try fields.attributeMatch("values", "notValues") { try $0.ports() })
        case "source.namespace": return .sourceNamespace(try fields.attributeMatch("values", "notValues") { try $0.patterns() })
        case "source.principal": return .sourcePrincipal(try fields.attributeMatch("values", "notValues") { try $0.patterns() })
        default:
            if let name = headerName(key) {
                guard !name.isEmpty else { throw field.error("\(field.path).key '\(key)' names no header", atKey: "key") }
                return .requestHeader(name: name.lowercased(),
                                      try fields.attributeMatch("values", "notValues") { try $0.patterns() })
            }
            if key.hasPrefix("request.auth.") {
                throw unsupported("it needs JWT authentication, which Ferry does not support")
            }
            if key == "connection.sni" {
                throw unsupported("Ferry's mTLS runs between node agents (HBONE), so a connection has no per-workload SNI")
            }
            if key.hasPrefix("experimental.envoy.filters.") {
                throw unsupported("it reads Envoy filter metadata, and Ferry has no Envoy")
            }
            throw field.error("\(field.path).key '\(key)' is not a known condition (supported: \(supportedConditionKeys.joined(separator: ", ")))",
                              atKey: "key")
        }
    }

    /// "request.headers[User-Agent]" → "User-Agent".
    static func headerName(_ key: String) -> String? {
        let prefix = "request.headers["
        guard key.hasPrefix(prefix), key.hasSuffix("]") else { return nil }
        return String(key.dropFirst(prefix.count).dropLast())
    }
}
