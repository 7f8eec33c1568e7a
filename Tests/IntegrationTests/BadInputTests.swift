import FerryProxy
import Foundation
import Testing

/// Bad input gets one clear line naming the thing, never a crash, and a running
/// ferryd keeps its last good state.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct BadInputTests {
    @Test func malformedYAMLAndMissingCgroupKeepTheLastGoodState() throws {
        let lab = try TestLab("badyaml")
        defer { lab.tearDown() }
        let node = try lab.addHost("node")
        _ = try node.cgroup("client")
        let agent = try TestAgent(host: node)
        try agent.writeConfig("client.yaml", agent.workloadYAML(name: "client", cgroupChild: "client"))
        let process = try agent.start()
        #expect(try agent.ctlJSON(["status"], as: AdminAPI.Status.self).enrolledWorkloads == ["default/client"])

        // The client's own file turns bad: its last good contents stay in force.
        try agent.writeConfig("client.yaml", "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: client\n")
        // Another file names a cgroup that does not exist.
        try agent.writeConfig("ghost.yaml", agent.workloadYAML(name: "ghost", cgroupChild: "no-such-cgroup"))
        var status: AdminAPI.Status?
        #expect(poll(timeout: 5) {
            status = try? agent.ctlJSON(["status"])
            return status?.configErrors.isEmpty == false && status?.datapathProblems.isEmpty == false
        })
        let error = try #require(status?.configErrors.first)
        #expect(error.contains("client.yaml:"), "names the file and line: \(error)")
        #expect(error.contains("malformed YAML"))
        let problem = try #require(status?.datapathProblems.first)
        #expect(problem.contains("default/ghost") && problem.contains("no-such-cgroup"), "\(problem)")
        #expect(status?.enrolledWorkloads == ["default/client"])
        #expect(process.isRunning)
        let logged = process.stderr.split(separator: "\n").filter { $0.contains("configuration rejected") }
        #expect(logged.count == 1, "one line per problem: \(logged)")
    }

    @Test func missingBPFObjectIsOneClearLine() throws {
        let lab = try TestLab("nobpf")
        defer { lab.tearDown() }
        let node = try lab.addHost("node")
        let agent = try TestAgent(host: node)
        let process = try node.spawn("ferryd-nobpf", in: "agent",
                                     agent.arguments.map { $0 == Paths.bpfObjects ? "/nonexistent/bpf" : $0 })
        let status = process.waitForExit(timeout: 15)
        #expect(status == 1)
        let last = process.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("ferryd: "), "\(process.stderr)")
        #expect(last.contains("/nonexistent/bpf/connect.bpf.o") && last.contains("make bpf"), "\(last)")
    }

    @Test func withoutCapabilitiesIsOneClearLine() throws {
        let result = Shell.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                Paths.ferryd, "--config-dir", "/tmp", "--node", "n"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("ferryd: missing CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN"), "\(result.stderr)")
        // Root without CAP_BPF is refused as well, naming just that one.
        let trimmed = Shell.run(["setpriv", "--bounding-set=-bpf", "--inh-caps=-bpf",
                                 Paths.ferryd, "--config-dir", "/tmp", "--node", "n"])
        #expect(trimmed.status == 1)
        #expect(trimmed.stderr.contains("ferryd: missing CAP_BPF:"), "\(trimmed.stderr)")
    }

    @Test func unknownLogLevelIsOneClearLine() throws {
        for arguments in [["--config-dir", "/tmp", "--node", "n"], ["ca", "--ca-dir", "/tmp", "--config-dir", "/tmp"]] {
            let result = Shell.run([Paths.ferryd] + arguments + ["--log-level", "verbose"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("ferryd: --log-level 'verbose' is not one of trace, debug, info"), "\(result.stderr)")
        }
    }

    @Test func ferryctlRefusesBadArgumentsClearly() throws {
        let lab = try TestLab("ctlargs")
        defer { lab.tearDown() }
        let node = try lab.addHost("node")
        let agent = try TestAgent(host: node)
        let direction = try agent.ctl(["connections", "--direction", "sideways"])
        #expect(direction.status != 0)
        #expect(direction.stderr.contains("--direction must be outbound or inbound"), "\(direction.stderr)")
        let dump = try agent.ctl(["maps", "dump", "ferry_nosuch"])
        #expect(dump.status != 0)
        #expect(dump.stderr.contains("ferry_nosuch"), "\(dump.stderr)")
        let status = try agent.ctl(["status"])
        #expect(status.status == 1)
        #expect(status.stdout.contains("DOWN"), "agent down is said so: \(status.output)")
        let check = try agent.ctl(["check"])
        #expect(check.ok, "this kernel has what Ferry needs: \(check.stdout)")
        #expect(check.stdout.split(separator: "\n").allSatisfy { $0.hasPrefix("ok") })
    }
}
