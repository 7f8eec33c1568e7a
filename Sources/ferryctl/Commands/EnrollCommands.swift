import ArgumentParser
import FerryBPF
import FerryMesh
import FerryProxy
import Foundation
import Yams

/// Where `enroll` writes and `unenroll` removes: the file source's directory
/// and this node, from the running agent or the command line.
struct EnrollTarget: ParsableArguments {
    @Option(help: "The agent's configuration directory (default: the running agent's).")
    var configDir: String?

    @Option(help: "This node's name (default: the running agent's).")
    var node: String?

    @OptionGroup var agent: AgentOptions

    /// The agent's status, when it is up.
    func status() async -> AdminAPI.Status? { try? await AdminClient(agent).get("/status") }

    func directory(_ status: AdminAPI.Status?) -> String {
        guard let directory = configDir ?? status?.configDirectory else {
            fail(status == nil ? "ferryd is not running here: give --config-dir (and --node)"
                               : "the agent reads the Kubernetes API, not a directory: enroll pods with the ferry.dev/mesh label")
        }
        return directory
    }

    /// The file `enroll` writes for a workload; `unenroll` removes only these.
    static func file(in directory: String, namespace: String, name: String) -> String {
        "\(directory)/enrolled-\(namespace)-\(name).yaml"
    }

    /// Polls the agent until `done` holds, up to five seconds.
    func waitFor(_ done: (AdminAPI.Status) -> Bool) async -> AdminAPI.Status? {
        var last: AdminAPI.Status?
        for _ in 0..<50 {
            last = await status()
            if let last, done(last) { return last }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return last
    }
}

/// `ferryctl enroll`: adds a workload of this node to the mesh by writing a
/// WorkloadEntry into the file source's directory; the agent enrolls its
/// cgroup on the next read.
struct EnrollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Enroll a cgroup of this node as a workload (file source): writes a WorkloadEntry.",
        discussion: """
        The workload's cgroup is given by path (relative to the cgroup2 mount) or by the pid
        of a process in it. The file is <config-dir>/enrolled-<namespace>-<name>.yaml;
        `ferryctl unenroll` removes it.
        """
    )

    @Argument(help: "Workload name (a DNS label).")
    var name: String

    @Option(help: "Namespace.")
    var namespace: String = "default"

    @Option(help: "cgroup of the workload, relative to the cgroup2 mount (or absolute under it).")
    var cgroup: String?

    @Option(help: "Enroll the cgroup this process runs in.")
    var pid: Int32?

    @Option(help: "Workload address (default: this node's InternalIP).")
    var address: String?

    @Option(help: "Service account, for the SPIFFE identity (default: the name).")
    var serviceAccount: String?

    @Option(name: .customLong("label"), help: "A label, key=value (repeatable).")
    var labels: [String] = []

    @Option(name: .customLong("port"), help: "A named port, name=number (repeatable).")
    var ports: [String] = []

    @OptionGroup var target: EnrollTarget
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let status = await target.status()
        let directory = target.directory(status)
        guard let node = target.node ?? status?.node else { fail("ferryd is not running here: give --node") }
        let cgroupPath = resolveCgroup()
        var portNumbers: [String: Int] = [:]
        for (portName, value) in pairs(ports, "--port") {
            guard let number = Int(value), (1...65535).contains(number) else { fail("--port \(portName): '\(value)' is not a port number") }
            portNumbers[portName] = number
        }
        guard let address = address ?? status?.nodeAddress ?? Self.onlyHostAddress() else {
            fail("no address for the workload: give --address (no Node resource for \(node) names one, and this host has not exactly one non-loopback IPv4 address)")
        }
        let document: [String: Any] = [
            "apiVersion": "networking.istio.io/v1",
            "kind": "WorkloadEntry",
            "metadata": [
                "name": name, "namespace": namespace, "labels": pairs(labels, "--label"),
                "annotations": ["ferry.dev/node": node, "ferry.dev/cgroup": cgroupPath],
            ] as [String: Any],
            "spec": ["address": address, "serviceAccount": serviceAccount ?? name, "ports": portNumbers] as [String: Any],
        ]
        let yaml = try Yams.dump(object: document, sortKeys: true)
        let file = EnrollTarget.file(in: directory, namespace: namespace, name: name)
        // The agent's own decoder judges it first, so a bad name is refused here
        // with the same message the agent would log.
        do { _ = try ResourceDecoder.decode(yaml: yaml, file: file) } catch { fail("\(error)") }
        do { try yaml.write(toFile: file, atomically: true, encoding: .utf8) } catch { fail("cannot write \(file): \(error)") }

        let key = "\(namespace)/\(name)"
        guard status != nil else {
            return report(["workload": key, "file": file, "enrolled": "pending: ferryd is not running"])
        }
        guard let after = await target.waitFor({ $0.enrolledWorkloads.contains(key) }), after.enrolledWorkloads.contains(key) else {
            let problems = await target.status().map { ($0.configErrors + $0.datapathProblems).joined(separator: "; ") } ?? ""
            fail("wrote \(file), but ferryd has not enrolled \(key) within 5 s\(problems.isEmpty ? "" : ": \(problems)")")
        }
        report(["workload": key, "file": file, "enrolled": "yes", "cgroup": cgroupPath])
    }

    private func report(_ fields: [String: String]) {
        if output.json { return output.printJSON(fields) }
        for key in ["workload", "cgroup", "file", "enrolled"] where fields[key] != nil {
            print("\(key):".padding(toLength: 10, withPad: " ", startingAt: 0) + fields[key]!)
        }
    }

    /// The cgroup as the annotation wants it: a path below the cgroup2 mount.
    private func resolveCgroup() -> String {
        guard let mount = CgroupFS.mountPoint() else { fail("no cgroup2 mount on this host") }
        let path: String
        switch (cgroup, pid) {
        case (let given?, nil):
            path = given.hasPrefix(mount + "/") ? String(given.dropFirst(mount.count)) : (given.hasPrefix("/") ? given : "/" + given)
        case (nil, let pid?):
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8),
                  let line = text.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else {
                fail("--pid \(pid): no such process, or it is not in a cgroup v2 hierarchy")
            }
            path = String(line.dropFirst(3))
        default:
            fail("give the workload's cgroup: --cgroup PATH or --pid PID (one of them)")
        }
        guard path != "/" else { fail("refusing to enroll the root cgroup: every process on the host would be captured") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: mount + path, isDirectory: &isDirectory), isDirectory.boolValue else {
            fail("no cgroup \(path) under \(mount)")
        }
        return path
    }

    /// The host's one non-loopback IPv4 address, if it has exactly one: what
    /// a workload sharing the host's network is reached at.
    static func onlyHostAddress() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var found: Set<String> = []
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let socketAddress = entry.pointee.ifa_addr, socketAddress.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            let address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            let ip = IPAddress(ipv4NetworkOrder: address.s_addr)
            if !ip.isLoopback { found.insert(ip.description) }
        }
        return found.count == 1 ? found.first : nil
    }

    private func pairs(_ items: [String], _ option: String) -> [String: String] {
        var result: [String: String] = [:]
        for item in items {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { fail("\(option) '\(item)': expected key=value") }
            result[parts[0]] = parts[1]
        }
        return result
    }
}

/// `ferryctl unenroll`: removes what `enroll` wrote; the agent unenrolls the
/// cgroup on the next read.
struct UnenrollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unenroll", abstract: "Remove a workload that `ferryctl enroll` added (file source)."
    )

    @Argument(help: "Workload name.")
    var name: String

    @Option(help: "Namespace.")
    var namespace: String = "default"

    @OptionGroup var target: EnrollTarget
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let status = await target.status()
        let file = EnrollTarget.file(in: target.directory(status), namespace: namespace, name: name)
        let key = "\(namespace)/\(name)"
        guard FileManager.default.fileExists(atPath: file) else {
            fail("no file of `ferryctl enroll` for \(key) (\(file)); a workload of your own YAML goes when you remove it there")
        }
        do { try FileManager.default.removeItem(atPath: file) } catch { fail("cannot remove \(file): \(error)") }
        var state = "pending: ferryd is not running"
        if status != nil {
            let after = await target.waitFor { !$0.enrolledWorkloads.contains(key) }
            state = after.map { $0.enrolledWorkloads.contains(key) ? "still enrolled after 5 s" : "no" } ?? "unknown: ferryd stopped answering"
        }
        if output.json { return output.printJSON(["workload": key, "file": file, "enrolled": state]) }
        print("workload: \(key)\nremoved:  \(file)\nenrolled: \(state)")
    }
}
