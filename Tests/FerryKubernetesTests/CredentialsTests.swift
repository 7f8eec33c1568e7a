@testable import FerryKubernetes
import Foundation
import Testing

@Suite final class CredentialsTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-credentials-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let kubeconfig = """
        apiVersion: v1
        kind: Config
        current-context: dev
        clusters:
        - name: kind
          cluster:
            server: https://127.0.0.1:6443
            certificate-authority-data: \(Data("CA-PEM".utf8).base64EncodedString())
        - name: files
          cluster:
            server: https://api.example:443/
            certificate-authority: pki/ca.crt
        users:
        - name: admin
          user:
            client-certificate-data: \(Data("CERT-PEM".utf8).base64EncodedString())
            client-key-data: \(Data("KEY-PEM".utf8).base64EncodedString())
        - name: robot
          user:
            tokenFile: robot.token
        contexts:
        - name: dev
          context: {cluster: kind, user: admin, namespace: shop}
        - name: ci
          context: {cluster: files, user: robot}
        """

    @Test func theCurrentContextPicksClusterAndUser() throws {
        let config = try Kubeconfig(yaml: Self.kubeconfig, path: try write("config", Self.kubeconfig))
        let credentials = try config.credentials()
        #expect(credentials.server == "https://127.0.0.1:6443")
        #expect(credentials.trust == .pem(Array("CA-PEM".utf8)))
        #expect(credentials.clientCertificate == .init(certificatePEM: Array("CERT-PEM".utf8), keyPEM: Array("KEY-PEM".utf8)))
        #expect(credentials.token == nil)
        #expect(credentials.origin.contains("context dev"))
    }

    @Test func filesAreRelativeToTheKubeconfig() throws {
        try FileManager.default.createDirectory(atPath: directory + "/pki", withIntermediateDirectories: true)
        _ = try write("pki/ca.crt", "FILE-CA")
        let tokenPath = try write("robot.token", "secret-1\n")
        let config = try Kubeconfig.load(path: try write("config", Self.kubeconfig))
        let credentials = try config.credentials(context: "ci")
        #expect(credentials.server == "https://api.example:443", "the trailing slash is dropped")
        #expect(credentials.trust == .pem(Array("FILE-CA".utf8)))
        #expect(try credentials.token?.current() == "secret-1")
        // A rotated token file is read again.
        try "secret-2".write(toFile: tokenPath + ".new", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: tokenPath)
        try FileManager.default.moveItem(atPath: tokenPath + ".new", toPath: tokenPath)
        #expect(try credentials.token?.current() == "secret-2")
    }

    func error(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func problemsNameTheFileAndField() throws {
        let path = try write("config", Self.kubeconfig)
        let config = try Kubeconfig(yaml: Self.kubeconfig, path: path)
        #expect(error { _ = try config.credentials(context: "prod") } == "\(path): contexts: no context named 'prod' (have: ci, dev)")
        #expect(error { _ = try config.credentials(context: "ci") }.contains("\(directory)/pki/ca.crt: cannot be read"))

        let exec = Self.kubeconfig.replacingOccurrences(of: "tokenFile: robot.token", with: "exec: {command: aws}")
        #expect(error { _ = try Kubeconfig(yaml: exec, path: path) } == "\(path): users[1].user.exec: not supported; use a token, tokenFile or client certificate")

        let noKey = Self.kubeconfig.replacingOccurrences(of: "    client-key-data:", with: "    x-client-key-data:")
        #expect(error { _ = try Kubeconfig(yaml: noKey, path: path).credentials() } == "\(path): users[admin]: client-certificate without client-key")

        let badBase64 = Self.kubeconfig.replacingOccurrences(of: "client-key-data: ", with: "client-key-data: '%%%'#")
        #expect(error { _ = try Kubeconfig(yaml: badBase64, path: path) }.contains("users[0].user.client-key-data is not valid base64"))

        let noServer = Self.kubeconfig.replacingOccurrences(of: "server: https://127.0.0.1:6443", with: "insecure-skip-tls-verify: true")
        #expect(error { _ = try Kubeconfig(yaml: noServer, path: path) }.contains("clusters[0].cluster.server is required"))

        let proxied = Self.kubeconfig.replacingOccurrences(of: "server: https://127.0.0.1:6443", with: "server: https://127.0.0.1:6443\n    proxy-url: http://proxy:3128")
        #expect(error { _ = try Kubeconfig(yaml: proxied, path: path) } == "\(path): clusters[0].cluster.proxy-url: not supported")

        let noCurrent = Self.kubeconfig.replacingOccurrences(of: "current-context: dev", with: "")
        #expect(error { _ = try Kubeconfig(yaml: noCurrent, path: path).credentials() } == "\(path): current-context is not set; name a context")
    }

    @Test func inClusterReadsTheEnvironmentAndTheServiceAccount() throws {
        _ = try write("token", "sa-token")
        _ = try write("ca.crt", "CLUSTER-CA")
        let credentials = try ClusterCredentials.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"], directory: directory)
        #expect(credentials.server == "https://10.96.0.1:443")
        #expect(credentials.trust == .pem(Array("CLUSTER-CA".utf8)))
        #expect(try credentials.token?.current() == "sa-token")

        let v6 = try ClusterCredentials.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"], directory: directory)
        #expect(v6.server == "https://[fd00::1]:6443")
    }

    @Test func inClusterProblemsNameTheVariableOrFile() throws {
        #expect(error { _ = try ClusterCredentials.inCluster(environment: [:], directory: directory) }
            .hasPrefix("KUBERNETES_SERVICE_HOST: not set"))
        #expect(error { _ = try ClusterCredentials.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "h"], directory: directory) }
            .hasPrefix("KUBERNETES_SERVICE_PORT:"))
        let environment = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]
        #expect(error { _ = try ClusterCredentials.inCluster(environment: environment, directory: directory) }
            .hasPrefix("\(directory)/token: token file cannot be read"))
        _ = try write("token", "t")
        #expect(error { _ = try ClusterCredentials.inCluster(environment: environment, directory: directory) }
            .hasPrefix("\(directory)/ca.crt: cannot be read"))
    }
}
