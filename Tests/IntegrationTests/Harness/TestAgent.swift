import Foundation

/// A real ferryd on a lab host: its own config directory, cgroup root (the host's
/// subtree) and pin directory; the process itself sits in the `agent` child
/// cgroup, which is never enrolled.
final class TestAgent: @unchecked Sendable {
    let host: TestHost
    let configDirectory: String
    let pinDirectory: String
    private(set) var process: BackgroundProcess?
    /// The cgroup ferryd runs in: the host's `agent` child unless set (an
    /// agent outside its cgroup root, say).
    var cgroup: String?
    private var starts = 0

    init(host: TestHost, configDirectory: String? = nil, pinDirectory: String? = nil) throws {
        self.host = host
        self.configDirectory = configDirectory ?? host.lab.logDirectory + "/config-\(host.name)"
        self.pinDirectory = pinDirectory ?? host.lab.pinDirectory(host.name)
        try FileManager.default.createDirectory(atPath: self.configDirectory, withIntermediateDirectories: true)
    }

    var arguments: [String] {
        [Paths.ferryd, "--config-dir", configDirectory, "--node", host.name, "--pin-dir", pinDirectory,
         "--cgroup-root", host.cgroup, "--bpf-objects", Paths.bpfObjects, "--log-level", "debug"]
    }

    /// Starts ferryd and waits until its admin API answers.
    @discardableResult
    func start(extraArguments: [String] = []) throws -> BackgroundProcess {
        starts += 1
        let process = try host.lab.spawn("ferryd-\(host.name)-\(starts)", namespace: host.namespace,
                                          cgroup: cgroup ?? host.cgroup("agent"), arguments + extraArguments)
        self.process = process
        let up = poll(timeout: 20, interval: 0.1) {
            !process.isRunning || (try? self.ctl(["status", "-o", "json"]).ok) == true
        }
        guard up, process.isRunning else {
            throw TestLab.LabError("ferryd did not come up: \(process.stderr.suffix(2000))")
        }
        return process
    }

    func stop() { process?.stop() }
    func kill9() {
        process?.signal(SIGKILL)
        _ = process?.waitForExit(timeout: 5)
    }

    /// Writes a YAML file into the agent's config directory (atomically).
    func writeConfig(_ name: String, _ yaml: String) throws {
        try yaml.write(toFile: configDirectory + "/" + name, atomically: true, encoding: .utf8)
    }

    func removeConfig(_ name: String) {
        try? FileManager.default.removeItem(atPath: configDirectory + "/" + name)
    }

    /// Runs ferryctl in the host's namespace against this agent's pins.
    func ctl(_ arguments: [String]) throws -> Shell.Result {
        try host.run(in: "ctl", ["env", "FERRY_PIN_DIR=\(pinDirectory)", Paths.ferryctl] + arguments, timeout: 30)
    }

    /// `ferryctl X -o json`, decoded.
    func ctlJSON<T: Decodable>(_ arguments: [String], as type: T.Type = T.self) throws -> T {
        let result = try ctl(arguments + ["-o", "json"])
        guard result.ok else { throw TestLab.LabError("ferryctl \(arguments) failed: \(result.output)") }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: Data(result.stdout.utf8))
    }

    /// A WorkloadEntry for a process cgroup on this host.
    func workloadYAML(name: String, cgroupChild: String, namespace: String = "default",
                      serviceAccount: String? = nil, labels: [String: String] = [:], ports: [String: Int] = [:]) -> String {
        let labelText = labels.isEmpty ? "{}" : "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        let portText = ports.isEmpty ? "{}" : "{" + ports.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        return """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata:
          name: \(name)
          namespace: \(namespace)
          labels: \(labelText)
          annotations:
            ferry.dev/node: \(host.name)
            ferry.dev/cgroup: \(host.relativeCgroup(cgroupChild))
        spec:
          address: "\(host.address)"
          serviceAccount: \(serviceAccount ?? name)
          ports: \(portText)

        """
    }
}
