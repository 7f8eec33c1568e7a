import FerryMesh
import FerryPolicy

/// A small mesh for authorization tests: the workloads below plus whatever
/// policy YAML a test adds, decoded as users would write it.
enum Fixtures {
    static let workloads = """
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: httpbin, namespace: foo, labels: {app: httpbin, version: v1}}
    spec: {address: 10.0.1.1, serviceAccount: httpbin}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: products, namespace: foo, labels: {app: products, version: v2}}
    spec: {address: 10.0.1.2}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: httpbin, namespace: bar, labels: {app: httpbin, version: v1}}
    spec: {address: 10.0.2.1}
    ---
    apiVersion: networking.istio.io/v1
    kind: WorkloadEntry
    metadata: {name: gateway, namespace: istio-system, labels: {app: gateway}}
    spec: {address: 10.0.9.1}
    """

    /// The fixture workloads plus `policies` (multi-document YAML).
    static func state(_ policies: String = "", generation: Int = 1) throws -> MeshState {
        let yaml = policies.isEmpty ? workloads : workloads + "\n---\n" + policies
        return try MeshState(resources: ResourceDecoder.decode(yaml: yaml, file: "policies.yaml"), generation: generation)
    }

    /// One AuthorizationPolicy document.
    static func policy(_ name: String, namespace: String = "foo", _ spec: String) -> String {
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: \(name), namespace: \(namespace)}\nspec:\n"
            + spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
    }

    static func workload(_ key: String, in state: MeshState) -> Workload {
        guard let workload = state.workload(key: key) else { fatalError("no workload \(key) in the fixture") }
        return workload
    }

    static let sleep = "cluster.local/ns/default/sa/sleep"

    /// A request to foo/httpbin from the `sleep` identity at 10.0.0.5, plain TCP
    /// unless `http` is given.
    static func request(to destination: String = "foo/httpbin", in state: MeshState, port: Int = 8000,
                        principal: String? = sleep, sourceIP: String = "10.0.0.5", remoteIP: String? = nil,
                        http: HTTPRequestAttributes? = nil) -> AuthorizationRequest {
        let workload = workload(destination, in: state)
        return AuthorizationRequest(
            destination: workload, destinationIP: workload.addresses[0], destinationPort: port,
            source: principal.flatMap { SpiffeID("spiffe://" + $0) }, sourceIP: IPAddress(sourceIP)!,
            remoteIP: remoteIP.map { IPAddress($0)! }, http: http
        )
    }

    static func get(_ path: String = "/", host: String = "httpbin.foo", headers: [String: String] = [:]) -> HTTPRequestAttributes {
        HTTPRequestAttributes(host: host, method: "GET", path: path, headers: headers)
    }

    static func http(_ method: String, _ path: String = "/", host: String = "httpbin.foo",
                     headers: [String: String] = [:]) -> HTTPRequestAttributes {
        HTTPRequestAttributes(host: host, method: method, path: path, headers: headers)
    }
}
