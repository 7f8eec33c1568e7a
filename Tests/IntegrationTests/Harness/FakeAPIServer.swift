import Foundation
import Testing

/// The fake Kubernetes API server (`Tests/FerryKubernetesTests/Tools/fake_apiserver.py`)
/// on 127.0.0.1:16443 inside a lab host, with a kubeconfig that points at it.
struct FakeAPIServer {
    let host: TestHost
    let process: BackgroundProcess
    /// A kubeconfig for `--kubeconfig`.
    let kubeconfig: String

    init(on host: TestHost) throws {
        self.host = host
        process = try host.spawn("apiserver", in: "api", [
            "python3", Paths.packageRoot + "/Tests/FerryKubernetesTests/Tools/fake_apiserver.py", "--port", "16443",
            "--state-file", host.lab.logDirectory + "/api-state.json",
        ])
        #expect(process.waitForOutput("listening"))
        kubeconfig = host.lab.logDirectory + "/kubeconfig"
        try """
        apiVersion: v1
        kind: Config
        clusters: [{name: fake, cluster: {server: "http://127.0.0.1:16443"}}]
        users: [{name: ferry, user: {token: test}}]
        contexts: [{name: fake, context: {cluster: fake, user: ferry}}]
        current-context: fake
        """.write(toFile: kubeconfig, atomically: true, encoding: .utf8)
    }

    /// Creates or replaces objects (JSON, one per string).
    func apply(_ objects: [String]) throws {
        for object in objects { try control("apply", object) }
    }

    /// Deletes `{"kind":…,"namespace":…,"name":…}`.
    func delete(_ reference: String) throws { try control("delete", reference) }

    /// Sets the server's own configuration (TokenReview answers, …).
    func configure(_ settings: String) throws { try control("config", settings) }

    private func control(_ endpoint: String, _ body: String) throws {
        let result = try host.run(in: "ctl", ["curl", "-sf", "-X", "POST", "--data-binary", body,
                                              "http://127.0.0.1:16443/_control/\(endpoint)"])
        #expect(result.ok, "\(endpoint): \(result.output)")
    }
}
