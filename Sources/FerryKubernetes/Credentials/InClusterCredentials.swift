/// The service account a pod runs with: the API server from the environment the
/// kubelet sets, the token and cluster CA from the mounted secret.
extension ClusterCredentials {
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    public static func inCluster(environment: [String: String],
                                 directory: String = serviceAccountDirectory) throws -> ClusterCredentials {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty else {
            throw CredentialError("KUBERNETES_SERVICE_HOST", "not set: not running in a pod (use a kubeconfig instead)")
        }
        guard let port = environment["KUBERNETES_SERVICE_PORT"], let number = Int(port), (1...65535).contains(number) else {
            throw CredentialError("KUBERNETES_SERVICE_PORT", "not set to a port number (is '\(environment["KUBERNETES_SERVICE_PORT"] ?? "")')")
        }
        let tokenPath = directory + "/token"
        let token = BearerToken.file(tokenPath)
        _ = try token.current()  // fail at start-up, not on the first request
        let ca = try readFileBytes(directory + "/ca.crt")
        guard !ca.isEmpty else { throw CredentialError(directory + "/ca.crt", "CA bundle is empty") }
        // An IPv6 service address needs brackets in a URL.
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return ClusterCredentials(server: "https://\(hostPart):\(number)", trust: .pem(ca), token: token,
                                  origin: "in-cluster service account (\(directory))")
    }
}
