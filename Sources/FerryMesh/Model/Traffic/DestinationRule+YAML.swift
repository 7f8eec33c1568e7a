/// Reading a DestinationRule. Fields Ferry implements are checked as Istio
/// checks them; Istio fields Ferry does not implement are refused by name so a
/// rule is never half applied.
extension DestinationRule {
    static let apiVersions: Set<String> = [
        "networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3",
    ]
    static let specFields: Set<String> = ["host", "trafficPolicy", "subsets", "exportTo", "workloadSelector"]
    static let policyFields: Set<String> = [
        "loadBalancer", "connectionPool", "outlierDetection", "tls", "portLevelSettings", "tunnel", "proxyProtocol",
        "retryBudget",
    ]

    init(document: [String: YAMLField], root: YAMLField) throws {
        let meta = try ObjectMeta(document["metadata"], in: root)
        guard let specField = document["spec"], !specField.isNull else {
            throw root.error("DestinationRule \(meta.name): spec is required")
        }
        let spec = try specField.fields(allowing: Self.specFields)
        try spec.refuse(["exportTo", "workloadSelector"], in: specField) { key in
            key == "exportTo" ? "a rule applies to every client of its host in Ferry"
                : "Ferry applies rules on the client side for every workload"
        }
        guard let hostField = spec["host"], !hostField.isNull else { throw specField.error("spec.host is required") }
        var names: Set<String> = []
        let subsets = try spec.list("subsets").map { item in
            let subset = try Self.subset(item)
            guard names.insert(subset.name).inserted else { throw item.error("\(item.path).name '\(subset.name)' is used twice") }
            return subset
        }
        self.init(
            name: meta.name, namespace: meta.namespace, creationTimestamp: meta.creationTimestamp,
            host: try ServiceName.istioHost(hostField, namespace: meta.namespace),
            trafficPolicy: try spec["trafficPolicy"].map(Self.trafficPolicy) ?? TrafficPolicy(),
            subsets: subsets
        )
    }

    static func subset(_ field: YAMLField) throws -> Subset {
        let fields = try field.fields(allowing: ["name", "labels", "trafficPolicy"])
        return Subset(name: try fields.requiredString("name", in: field), labels: try fields.stringMap("labels"),
                      trafficPolicy: try fields["trafficPolicy"].map(trafficPolicy) ?? TrafficPolicy())
    }

    static func trafficPolicy(_ field: YAMLField) throws -> TrafficPolicy {
        let fields = try field.fields(allowing: policyFields)
        try fields.refuse(["tunnel", "proxyProtocol", "retryBudget"], in: field) { key in
            key == "retryBudget" ? "Ferry applies its own retry budget (20% of requests) to every destination"
                : "Ferry's node agents carry traffic over HBONE"
        }
        var policy = try sections(fields)
        for item in try fields.list("portLevelSettings") {
            let (port, portPolicy) = try portTrafficPolicy(item)
            guard policy.portLevelSettings.updateValue(portPolicy, forKey: port) == nil else {
                throw item.error("\(item.path).port.number \(port) has settings twice")
            }
        }
        return policy
    }

    /// The sections a policy and its per-port policies share.
    static func sections(_ fields: [String: YAMLField]) throws -> TrafficPolicy {
        if let tls = fields["tls"] { try checkTLS(tls) }
        return TrafficPolicy(
            loadBalancer: try fields["loadBalancer"].flatMap { $0.isNull ? nil : try loadBalancer($0) },
            connectionPool: try fields["connectionPool"].map(connectionPool),
            outlierDetection: try fields["outlierDetection"].map(outlierDetection)
        )
    }

    /// One `portLevelSettings` item: a Service port number and its policy.
    static func portTrafficPolicy(_ field: YAMLField) throws -> (Int, TrafficPolicy) {
        let fields = try field.fields(allowing: ["port", "loadBalancer", "connectionPool", "outlierDetection", "tls"])
        let portField = try fields.required("port", in: field)
        guard let port = try portField.fields(allowing: ["number"]).int("number", in: 1...65535) else {
            throw portField.error("\(portField.path).number is required")
        }
        return (port, try sections(fields))
    }

    /// Ferry always speaks mesh mTLS between agents, which is what ISTIO_MUTUAL
    /// asks for; anything else would be a promise Ferry does not keep.
    static func checkTLS(_ field: YAMLField) throws {
        let fields = try field.fields()
        for key in fields.keys.sorted() where key != "mode" {
            throw field.error("\(field.path).\(key) is not supported: Ferry's mTLS is the mesh's own (ISTIO_MUTUAL)", atKey: key)
        }
        let mode = try fields.string("mode") ?? "ISTIO_MUTUAL"
        guard mode == "ISTIO_MUTUAL" else {
            throw field.error("\(field.path).mode \(mode) is not supported: Ferry always uses mesh mTLS (ISTIO_MUTUAL)", atKey: "mode")
        }
    }

    static func loadBalancer(_ field: YAMLField) throws -> LoadBalancerSettings? {
        let fields = try field.fields(allowing: ["simple", "consistentHash", "localityLbSetting", "warmupDurationSecs", "warmup"])
        try fields.refuse(["localityLbSetting", "warmupDurationSecs", "warmup"], in: field) { key in
            key == "localityLbSetting" ? "Ferry has no localities" : "Ferry does not ramp new endpoints up slowly"
        }
        if fields["simple"] != nil && fields["consistentHash"] != nil {
            throw field.error("\(field.path): write simple or consistentHash, not both")
        }
        if let hashField = fields["consistentHash"], !hashField.isNull {
            return .consistentHash(try consistentHash(hashField))
        }
        guard let simpleField = fields["simple"], let simple = try fields.string("simple") else { return nil }
        switch simple {
        case "ROUND_ROBIN": return .roundRobin
        case "LEAST_REQUEST", "LEAST_CONN": return .leastRequest
        case "RANDOM": return .random
        case "UNSPECIFIED": return nil
        case "PASSTHROUGH":
            throw simpleField.error("\(simpleField.path) PASSTHROUGH is not supported: Ferry always balances over the Service's endpoints")
        default:
            throw simpleField.error("\(simpleField.path) '\(simple)' is not one of ROUND_ROBIN, LEAST_REQUEST, LEAST_CONN, RANDOM, UNSPECIFIED")
        }
    }

    static func consistentHash(_ field: YAMLField) throws -> ConsistentHashSettings {
        let fields = try field.fields(allowing: [
            "httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName", "ringHash", "maglev", "minimumRingSize",
        ])
        try fields.refuse(["httpCookie", "maglev"], in: field) { key in
            key == "httpCookie" ? "Ferry does not issue affinity cookies; hash on a header instead" : "Ferry hashes on a ring (ringHash)"
        }
        var keys: [ConsistentHashSettings.Key] = []
        if let name = try fields.string("httpHeaderName") {
            keys.append(.header(try HTTPRoute.headerName(name, fields["httpHeaderName"]!).lowercased()))
        }
        if try fields.bool("useSourceIp") == true { keys.append(.sourceIP) }
        if let name = try fields.string("httpQueryParameterName") { keys.append(.queryParameter(name)) }
        guard keys.count == 1, let key = keys.first else {
            throw field.error("\(field.path) needs exactly one of httpHeaderName, useSourceIp: true, httpQueryParameterName")
        }
        var ringSize = try fields.int("minimumRingSize", in: 1...8_388_608)
        if let ring = fields["ringHash"] {
            if ringSize != nil { throw field.error("\(field.path): write minimumRingSize in ringHash only", atKey: "ringHash") }
            ringSize = try ring.fields(allowing: ["minimumRingSize"]).int("minimumRingSize", in: 1...8_388_608)
        }
        return ConsistentHashSettings(key: key, minimumRingSize: ringSize ?? 1024)
    }

    static func connectionPool(_ field: YAMLField) throws -> ConnectionPoolSettings {
        let fields = try field.fields(allowing: ["tcp", "http"])
        var pool = ConnectionPoolSettings()
        /// Istio reads 0 as "not set": the default limit applies.
        func limit(_ fields: [String: YAMLField], _ key: String) throws -> Int? {
            guard let value = try fields.int(key, in: 0...ConnectionPoolSettings.unlimited) else { return nil }
            return value == 0 ? nil : value
        }
        if let tcpField = fields["tcp"] {
            let tcp = try tcpField.fields(allowing: ["maxConnections", "connectTimeout", "tcpKeepalive", "maxConnectionDuration", "idleTimeout"])
            try tcp.refuse(["tcpKeepalive", "maxConnectionDuration", "idleTimeout"], in: tcpField) { _ in
                "Ferry's connection pool manages connection lifetimes itself"
            }
            pool.maxConnections = try limit(tcp, "maxConnections") ?? pool.maxConnections
            pool.connectTimeout = try tcp["connectTimeout"].map { try $0.istioDuration() } ?? pool.connectTimeout
        }
        if let httpField = fields["http"] {
            let http = try httpField.fields(allowing: [
                "http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries", "idleTimeout",
                "h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams",
            ])
            try http.refuse(["idleTimeout", "h2UpgradePolicy", "useClientProtocol", "maxConcurrentStreams"], in: httpField) { _ in
                "Ferry chooses the upstream protocol from the Service port (appProtocol or name)"
            }
            pool.maxPendingRequests = try limit(http, "http1MaxPendingRequests") ?? pool.maxPendingRequests
            pool.maxRequests = try limit(http, "http2MaxRequests") ?? pool.maxRequests
            pool.maxRequestsPerConnection = try limit(http, "maxRequestsPerConnection")
            pool.maxRetries = try limit(http, "maxRetries") ?? pool.maxRetries
        }
        return pool
    }

    static func outlierDetection(_ field: YAMLField) throws -> OutlierDetectionSettings {
        let fields = try field.fields(allowing: [
            "consecutive5xxErrors", "consecutiveGatewayErrors", "interval", "baseEjectionTime", "maxEjectionPercent",
            "minHealthPercent", "splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures", "consecutiveErrors",
        ])
        try fields.refuse(["splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures", "consecutiveErrors"], in: field) { key in
            key == "consecutiveErrors" ? "it is deprecated in Istio; use consecutive5xxErrors"
                : "Ferry counts connect failures as 5xx and gateway errors (Istio's default)"
        }
        var settings = OutlierDetectionSettings()
        settings.consecutive5xxErrors = try fields.int("consecutive5xxErrors", in: 0...Int(UInt32.max)) ?? settings.consecutive5xxErrors
        settings.consecutiveGatewayErrors = try fields.int("consecutiveGatewayErrors", in: 0...Int(UInt32.max))
            ?? settings.consecutiveGatewayErrors
        settings.interval = try fields["interval"].map { try $0.istioDuration() } ?? settings.interval
        settings.baseEjectionTime = try fields["baseEjectionTime"].map { try $0.istioDuration() } ?? settings.baseEjectionTime
        settings.maxEjectionPercent = try fields.int("maxEjectionPercent", in: 0...100) ?? settings.maxEjectionPercent
        settings.minHealthPercent = try fields.int("minHealthPercent", in: 0...100) ?? settings.minHealthPercent
        return settings
    }
}
