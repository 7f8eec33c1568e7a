/// Span export for HTTP requests (MeshConfig `spec.tracing`): where an agent
/// sends one span per request it proxies, over OTLP/HTTP. Absent: spans are
/// not recorded, `traceparent` is still propagated.
public struct TracingSettings: Hashable, Sendable, Codable {
    public enum Encoding: String, Hashable, Sendable, Codable, CaseIterable {
        case protobuf = "http/protobuf"
        case json = "http/json"
    }

    /// The collector's traces URL, e.g. `http://otel-collector:4318/v1/traces`.
    public var otlpEndpoint: String
    public var encoding: Encoding = .protobuf
    /// Share of new traces that are sampled, as Istio's `sampling`: 0–100,
    /// default 1. A request that arrives with a `traceparent` follows its flag.
    public var samplingPercent: Double = 1

    public init(otlpEndpoint: String, encoding: Encoding = .protobuf, samplingPercent: Double = 1) {
        self.otlpEndpoint = otlpEndpoint
        self.encoding = encoding
        self.samplingPercent = samplingPercent
    }

    static let fields: Set<String> = ["otlpEndpoint", "protocol", "samplingPercent"]

    init(_ field: YAMLField) throws {
        let spec = try field.fields(allowing: Self.fields)
        guard let endpoint = try spec.string("otlpEndpoint") else {
            throw field.error("\(field.path).otlpEndpoint is required (the collector's OTLP/HTTP traces URL)")
        }
        guard let scheme = endpoint.split(separator: ":", maxSplits: 1).first, ["http", "https"].contains(scheme),
              endpoint.hasPrefix("\(scheme)://"), endpoint.count > scheme.count + 3 else {
            throw spec["otlpEndpoint"]!.error("\(field.path).otlpEndpoint '\(endpoint)' is not an http:// or https:// URL")
        }
        otlpEndpoint = endpoint
        if let name = try spec.string("protocol") {
            guard let parsed = Encoding(rawValue: name) else {
                let known = Encoding.allCases.map(\.rawValue).joined(separator: ", ")
                throw spec["protocol"]!.error("\(field.path).protocol '\(name)' is not one of \(known) (OTLP over gRPC is not supported)")
            }
            encoding = parsed
        }
        if let percent = spec["samplingPercent"] {
            guard let value = Double(try percent.string()), (0...100).contains(value) else {
                throw percent.error("\(field.path).samplingPercent must be a number from 0 to 100")
            }
            samplingPercent = value
        }
    }
}
