/// One ported conformance test: its manifests, its requests and what each
/// must get, in the shape `Tools/gammaclient.py` reads.
struct GAMMATest {
    /// The suite's ShortName.
    var name: String
    /// The suite's test file, for the record.
    var source: String
    /// The route manifests, applied before the cases and removed after.
    var manifests: String
    var cases: [GAMMACase] = []
    var weights: [GAMMAWeights] = []
}

/// The echo pods the suite execs its client in.
enum GAMMAClient: String, CaseIterable {
    /// echo-v1 of gateway-conformance-mesh (`echo.ConnectToApp(MeshAppEchoV1)`).
    case v1
    /// echo-v2 of gateway-conformance-mesh.
    case v2
    /// echo-v1 of gateway-conformance-mesh-consumer.
    case consumer
}

struct GAMMACase: Encodable {
    var name: String
    var client: GAMMAClient
    var request: GAMMARequest
    var expect: GAMMAExpect

    enum CodingKeys: String, CodingKey { case name, `protocol`, address, authority, method, path, headers, expect }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(request.protocolName, forKey: .`protocol`)
        try container.encode(request.address, forKey: .address)
        try container.encode(request.authority, forKey: .authority)
        try container.encode(request.method, forKey: .method)
        try container.encode(request.path, forKey: .path)
        try container.encode(request.headers.map { [$0.0, $0.1] }, forKey: .headers)
        try container.encode(expect, forKey: .expect)
    }
}

/// A request as the suite's echo client sends it: to an address (the Service
/// VIP the suite's host name resolves to, or a pod address), with the Host
/// (or :authority) the suite's URL gives.
struct GAMMARequest {
    var grpc = false
    var address: String
    var authority: String
    var method = "GET"
    var path = "/"
    var headers: [(String, String)] = []

    var protocolName: String { grpc ? "grpc" : "http" }
}

struct GAMMAExpect: Encodable {
    var status: [Int] = [200]
    /// The prefix of the answering pod's name; empty accepts any.
    var backend: String = ""
    /// Names compared without case, repeated values joined with ",".
    var requestHeaders: [String: String] = [:]
    var absentRequestHeaders: [String] = []
    var responseHeaders: [String: String] = [:]
    var absentResponseHeaders: [String] = []
    /// The request target the backend received (the suite fills it in but
    /// does not compare it in mesh mode; the port does).
    var path: String?
    /// The intended redirect `Location` (also left uncompared by the suite's mesh mode).
    var location: GAMMALocation?
}

struct GAMMALocation: Encodable {
    var scheme: String?
    var host: String?
    var port: Int?
    var path: String?
}

struct GAMMAWeights: Encodable {
    var name: String
    var client: GAMMAClient
    var request: GAMMARequest
    var count = 500
    var expected: [String: Double]
    var tolerance = 0.05
    var tries = 10

    enum CodingKeys: String, CodingKey { case name, `protocol`, address, authority, path, count, expected, tolerance, tries }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(request.protocolName, forKey: .`protocol`)
        try container.encode(request.address, forKey: .address)
        try container.encode(request.authority, forKey: .authority)
        try container.encode(request.path, forKey: .path)
        try container.encode(count, forKey: .count)
        try container.encode(expected, forKey: .expected)
        try container.encode(tolerance, forKey: .tolerance)
        try container.encode(tries, forKey: .tries)
    }
}
