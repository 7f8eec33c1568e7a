import FerryKubernetes
import Foundation
import Testing

/// The client against an HTTPS fake API server that wants a client certificate
/// and a bearer token, configured from a kubeconfig as a developer would.
@Suite(.serialized) struct TLSTests {
    static let openssl = "/usr/bin/openssl"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: openssl), "needs the openssl command to make test certificates"))
    func kubeconfigWithClusterCAClientCertificateAndTokenFile() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let server = try await FakeAPIServer.start(
            arguments: ["--tls-cert", pki.path("server.crt"), "--tls-key", pki.path("server.key"),
                        "--client-ca", pki.path("ca.crt"), "--token", "token-1"],
            objects: [Fixture.pod("web-1", ip: "10.0.1.1")]
        )
        defer { server.stop() }
        try "token-1\n".write(toFile: pki.path("token"), atomically: true, encoding: .utf8)
        let kubeconfig = """
            apiVersion: v1
            kind: Config
            current-context: test
            clusters: [{name: fake, cluster: {server: "https://127.0.0.1:\(server.port)", certificate-authority: ca.crt}}]
            users: [{name: dev, user: {client-certificate: client.crt, client-key: client.key, tokenFile: token}}]
            contexts: [{name: test, context: {cluster: fake, user: dev}}]
            """
        let credentials = try Kubeconfig(yaml: kubeconfig, path: pki.path("config")).credentials()
        let pods = APIResource(kind: "Pod", apiVersion: "v1", plural: "pods")

        let client = try KubernetesClient(credentials: credentials)
        do {
            #expect(try await client.list(pods).items.map(\.name) == ["web-1"])
            // A token the server does not take: the file is read again, and refused.
            try "token-2".write(toFile: pki.path("token"), atomically: true, encoding: .utf8)
            await #expect { try await client.list(pods) } throws: { ($0 as? APIError)?.statusCode == 401 }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()

        try "token-1".write(toFile: pki.path("token"), atomically: true, encoding: .utf8)
        // Refused in the handshake, for the reason each side gives.
        for (variant, reason) in [
            (ClusterCredentials(server: credentials.server, trust: .pem(try pki.bytes("other-ca.crt")),
                                clientCertificate: credentials.clientCertificate, token: credentials.token, origin: "test"),
             "CERTIFICATE_VERIFY_FAILED"),
            (ClusterCredentials(server: credentials.server, trust: credentials.trust, token: credentials.token, origin: "test"),
             "CERTIFICATE_REQUIRED"),
        ] {
            let refused = try KubernetesClient(credentials: variant, connectTimeout: .seconds(1))
            await #expect { try await refused.list(pods) } throws: { "\($0)".contains(reason) }
            try await refused.shutdown()
        }
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made by
/// the openssl command in a temporary directory.
struct TestPKI {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-pki-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n".write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: path("client.ext"), atomically: true, encoding: .utf8)
        for ca in ["ca", "other-ca"] {
            try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                     "-keyout", "\(ca).key", "-out", "\(ca).crt", "-subj", "/CN=\(ca)"])
        }
        for (leaf, cn) in [("server", "kube-apiserver"), ("client", "ferryd")] {
            try run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", "\(leaf).key", "-out", "\(leaf).csr", "-subj", "/CN=\(cn)"])
            try run(["x509", "-req", "-in", "\(leaf).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                     "-days", "1", "-out", "\(leaf).crt", "-extfile", "\(leaf).ext"])
        }
    }

    func path(_ name: String) -> String { directory + "/" + name }
    func bytes(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path(name)))) }
    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    private func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TLSTests.openssl)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw FakeServerError("openssl \(arguments.joined(separator: " ")) failed") }
    }
}
