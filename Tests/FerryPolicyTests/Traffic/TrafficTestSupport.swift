import FerryMesh
import FerryPolicy

/// SplitMix64: a small, fast generator whose sequence is fixed by its seed,
/// so statistical tests give the same numbers on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// Time that moves only when a test says so.
struct TestInstant: InstantProtocol, CustomStringConvertible {
    var offset: Duration

    static let zero = TestInstant(offset: .zero)
    static func at(_ offset: Duration) -> TestInstant { TestInstant(offset: offset) }

    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - offset }
    static func < (a: TestInstant, b: TestInstant) -> Bool { a.offset < b.offset }
    var description: String { "t+\(offset)" }
}

func meshState(_ yaml: String, generation: Int = 1) throws -> MeshState {
    try MeshState(resources: ResourceDecoder.decode(yaml: yaml, file: "test.yaml"), generation: generation)
}

func request(_ path: String, method: String = "GET", authority: String = "reviews", headers: [String: String] = [:],
             sourceIP: String = "10.0.0.1") -> HTTPRequestInfo {
    HTTPRequestInfo(method: method, path: path, authority: authority, headers: headers, sourceIP: IPAddress(sourceIP)!)
}

func endpoints(_ count: Int, base: Int = 0) -> [UpstreamEndpoint] {
    (0..<count).map { index in
        let n = base + index
        let ip = IPAddress("10.1.\(n / 250).\(n % 250 + 1)")!
        return UpstreamEndpoint(workload: Workload(name: "ep-\(n)", namespace: "demo", addresses: [ip]),
                                address: IPEndpoint(ip: ip, port: 8080))
    }
}

/// Services reviews (with v1, v2, v3 backends), ratings and shadow in
/// namespace demo, each with endpoints; traffic resources are appended.
enum Bookinfo {
    static let services = ["reviews", "reviews-v1", "reviews-v2", "reviews-v3", "ratings", "shadow"]

    static var yaml: String {
        services.enumerated().map { index, name in
            """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: \(name)-pod, namespace: demo, labels: {app: \(name)}}
            spec: {address: 198.18.1.\(index + 1), ports: {http: 9080}}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: demo}
            spec:
              clusterIP: 198.19.1.\(index + 1)
              selector: {app: \(name)}
              ports: [{name: http, port: 9080, targetPort: http}, {name: http-admin, port: 8080}]
            """
        }.joined(separator: "\n---\n")
    }

    static func table(_ traffic: String = "") throws -> HTTPRouteTable {
        HTTPRouteTable(state: try meshState(traffic.isEmpty ? yaml : yaml + "\n---\n" + traffic))
    }

    static func route(_ name: String, namespace: String = "demo", parent: String = "reviews", timestamp: String? = nil,
                      extra: String = "", rules: String) -> String {
        let stamp = timestamp.map { ", creationTimestamp: \"\($0)\"" } ?? ""
        return """
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: \(name), namespace: \(namespace)\(stamp)}
        spec:
          parentRefs: [{group: "", kind: Service, name: \(parent), namespace: demo}]
        \(extra)  rules:
        \(rules)
        """
    }
}

extension HTTPRouteTable {
    func service(_ name: String, namespace: String = "demo") -> MeshService {
        state.services.first { $0.name == name && $0.namespace == namespace }!
    }

    /// Routes a request to reviews:9080 with a fixed seed.
    func decide(_ request: HTTPRequestInfo, service name: String = "reviews", port: Int = 9080,
                clientNamespace: String? = nil, seed: UInt64 = 1) -> RouteDecision? {
        var rng = SeededGenerator(seed: seed)
        return route(request, service: service(name), port: port, clientNamespace: clientNamespace, using: &rng)
    }
}
