import FerryBPF
import FerryProxy
import Foundation
import Testing

/// Issue 2: socket-layer capture with real BPF, a real ferryd and real traffic
/// between network namespaces.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct CaptureTests {
    /// A node running ferryd with one enrolled `client` workload, and a server host
    /// running the sink on port 9000.
    struct Setup {
        let lab: TestLab
        let node: TestHost
        let server: TestHost
        let agent: TestAgent
        let sink: BackgroundProcess

        init(_ name: String, enrollClient: Bool = true) throws {
            lab = try TestLab(name)
            do {
                node = try lab.addHost("node")
                server = try lab.addHost("srv")
                agent = try TestAgent(host: node)
                if enrollClient {
                    try agent.writeConfig("client.yaml", agent.workloadYAML(name: "client", cgroupChild: "client"))
                }
                _ = try node.cgroup("client")
                sink = try server.spawn("sink", ["python3", Paths.testTool, "sink", "--listen", "[::]:9000"])
                guard sink.waitForOutput("listening") else { throw TestLab.LabError("sink did not start: \(sink.stderr)") }
                try agent.start()
            } catch {
                lab.tearDown()
                throw error
            }
        }

        func send(from cgroup: String = "client", to target: String, bytes: Int) throws -> Shell.Result {
            try node.run(in: cgroup, ["python3", Paths.testTool, "send", "--to", target, "--bytes", "\(bytes)"])
        }

        func status() throws -> AdminAPI.Status { try agent.ctlJSON(["status"]) }
    }

    struct ConnectionRow: Decodable {
        var direction: String
        var sourceWorkload: String
        var destination: String
        var bytesSent: UInt64
        var bytesReceived: UInt64
        var srttMicroseconds: UInt32?
        var retransmits: UInt32?
        var state: String?
    }

    @Test func capturesIPv4AndDelivers50MiBIntact() throws {
        let setup = try Setup("ipv4")
        defer { setup.lab.tearDown() }
        let before = try setup.status()

        let result = try setup.send(to: "\(setup.server.ipv4):9000", bytes: 50 << 20)
        #expect(result.ok, "\(result.output)")
        #expect(result.stdout.hasPrefix("\(50 << 20) "), "\(result.output)")

        let after = try setup.status()
        #expect(after.kernelCounters["redirected"] == (before.kernelCounters["redirected"] ?? 0) + 1,
                "exactly the client's connect is redirected: ferryd's upstream socket is not")
        #expect(after.connectionsClosed == before.connectionsClosed + 1)
        let lines = setup.agent.process!.stdout.split(separator: "\n")
        let logged = lines.first { $0.contains("\"dst_addr\":\"\(setup.server.ipv4):9000\"") }
        #expect(logged?.contains("\"bytes_sent\":\(50 << 20)") == true, "access log: \(lines)")
        #expect(logged?.contains("\"src_workload\":\"default/client\"") == true)
    }

    @Test func capturesIPv6() throws {
        let setup = try Setup("ipv6")
        defer { setup.lab.tearDown() }
        let result = try setup.send(to: "[\(setup.server.ipv6)]:9000", bytes: 50 << 20)
        #expect(result.ok, "\(result.output)")
        let status = try setup.status()
        #expect(status.kernelCounters["redirected"] == 1)
        let lines = setup.agent.process!.stdout
        #expect(lines.contains("\"dst_addr\":\"[\(setup.server.ipv6)]:9000\""), "\(lines)")

        #expect(setup.agent.process!.stderr.contains(" debug ferryd: "), "--log-level debug holds over the MeshConfig's default")

        // MeshConfig's accessLog applies without a restart, both ways.
        let logged = { setup.agent.process!.stdout.components(separatedBy: "\"dst_addr\":\"[\(setup.server.ipv6)]:9000\"").count - 1 }
        let before = logged()
        for accessLog in [false, true] {
            let generation = try setup.status().configGeneration
            try setup.agent.writeConfig("mesh.yaml", "apiVersion: ferry.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {accessLog: \(accessLog)}\n")
            #expect(poll(timeout: 5) { ((try? setup.status().configGeneration) ?? 0) > generation })
            #expect(try setup.send(to: "[\(setup.server.ipv6)]:9000", bytes: 1000).ok)
            if accessLog {
                #expect(poll(timeout: 5) { logged() == before + 1 }, "accessLog: true brings the lines back")
            } else {
                usleep(500_000)
                #expect(logged() == before, "accessLog: false stops the lines")
            }
        }
    }

    /// Applications log, check and reconnect to getpeername()'s answer; through
    /// iptables it is the original destination, so it must be here too.
    @Test func getpeernameAnswersTheOriginalDestination() throws {
        let setup = try Setup("peername")
        defer { setup.lab.tearDown() }
        let targets = [
            ("\(setup.server.ipv4):9000", setup.server.ipv4),
            ("[\(setup.server.ipv6)]:9000", setup.server.ipv6),
            // An IPv6 socket to an IPv4-mapped address, as Java's dual-stack sockets connect.
            ("[::ffff:\(setup.server.ipv4)]:9000", "::ffff:\(setup.server.ipv4)"),
        ]
        for (target, address) in targets {
            let result = try setup.node.run(in: "client", ["python3", Paths.testTool, "peername", "--to", target])
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(result.ok && lines.count == 2 && lines[1].hasPrefix("100 "), "\(target): \(result.output)")
            #expect(lines.first == "peer \(address) 9000", "\(target): \(result.output)")
        }
        // Through ferryd, not around it: every connect was redirected.
        let status = try setup.status()
        #expect(status.kernelCounters["redirected"] == UInt64(targets.count))
        #expect(status.connectionsOpened == UInt64(targets.count))
    }

    @Test func processesOutsideEnrolledCgroupsAreNotRedirected() throws {
        let setup = try Setup("unenrolled")
        defer { setup.lab.tearDown() }
        let result = try setup.send(from: "other", to: "\(setup.server.ipv4):9000", bytes: 1000)
        #expect(result.ok, "\(result.output)")
        let status = try setup.status()
        #expect(status.kernelCounters["redirected"] == 0)
        #expect(status.connectionsOpened == 0)
    }

    @Test func connectionsShowsKernelStatsOfALiveConnection() throws {
        let setup = try Setup("live")
        defer { setup.lab.tearDown() }
        let hold = try setup.node.spawn("hold", in: "client",
                                        ["python3", Paths.testTool, "hold", "--to", "\(setup.server.ipv4):9000", "--seconds", "4"])
        #expect(hold.waitForOutput("connected"))
        var seen: ConnectionRow?
        _ = poll(timeout: 3, interval: 0.2) {
            let rows = (try? setup.agent.ctlJSON(["connections"], as: [ConnectionRow].self)) ?? []
            seen = rows.first { $0.bytesSent > 0 && ($0.srttMicroseconds ?? 0) > 0 }
            return seen != nil
        }
        let row = try #require(seen, "no live connection with bytes and srtt")
        #expect(row.destination == "\(setup.server.ipv4):9000")
        #expect(row.sourceWorkload == "default/client")
        // What the kernel itself says of that socket (ss reads tcp_info; a
        // retransmit shows as "retrans:cur/total"), read after the row: the
        // row's count can only be behind it.
        let ss = try setup.node.run(in: "client", ["ss", "-Htin", "dst", "\(setup.server.ipv4):9000"]).stdout
        let kernelTotal = ss.split(separator: " ").first { $0.hasPrefix("retrans:") }
            .flatMap { UInt32($0.split(separator: "/").last ?? "") } ?? 0
        let shown = try #require(row.retransmits, "the row carries the kernel's retransmit count")
        #expect(shown <= kernelTotal, "ferryctl \(shown), kernel \(kernelTotal): \(ss)")
        #expect((row.srttMicroseconds ?? 0) < 50_000, "a veth pair's RTT: \(row.srttMicroseconds ?? 0) µs")
        #expect(row.state == "ESTABLISHED")
        _ = hold.waitForExit(timeout: 10)
    }

    @Test func enrollsAndUnenrollsWhenTheDirectoryChanges() throws {
        let setup = try Setup("runtime", enrollClient: false)
        defer { setup.lab.tearDown() }
        #expect(try setup.send(to: "\(setup.server.ipv4):9000", bytes: 100).ok)
        #expect(try setup.status().kernelCounters["redirected"] == 0)

        try setup.agent.writeConfig("client.yaml", setup.agent.workloadYAML(name: "client", cgroupChild: "client"))
        #expect(poll(timeout: 5) { (try? setup.status().enrolledWorkloads) == ["default/client"] })
        #expect(try setup.send(to: "\(setup.server.ipv4):9000", bytes: 100).ok)
        #expect(try setup.status().kernelCounters["redirected"] == 1)

        setup.agent.removeConfig("client.yaml")
        #expect(poll(timeout: 5) { (try? setup.status().enrolledWorkloads) == [] })
        #expect(try setup.send(to: "\(setup.server.ipv4):9000", bytes: 100).ok)
        #expect(try setup.status().kernelCounters["redirected"] == 1)
    }

    @Test func failsOpenWhileFerrydIsDownAndUnloadRemovesEverything() throws {
        let setup = try Setup("failopen")
        defer { setup.lab.tearDown() }
        // The server is a workload of another node under STRICT mTLS, but for
        // port 9000; a second sink on 9001 would take plaintext if let through.
        try setup.agent.writeConfig("server.yaml", """
            apiVersion: networking.istio.io/v1
            kind: WorkloadEntry
            metadata: {name: server, namespace: default, labels: {app: server}, annotations: {ferry.dev/node: elsewhere}}
            spec: {address: \(setup.server.ipv4)}
            ---
            apiVersion: security.istio.io/v1
            kind: PeerAuthentication
            metadata: {name: server, namespace: default}
            spec: {selector: {matchLabels: {app: server}}, mtls: {mode: STRICT}, portLevelMtls: {9000: {mode: PERMISSIVE}}}
            """)
        let strictSink = try setup.server.spawn("sink9001", ["python3", Paths.testTool, "sink", "--listen", "[::]:9001"])
        #expect(strictSink.waitForOutput("listening"))
        #expect(poll(timeout: 5) {
            let entries = (try? setup.agent.ctlJSON(["maps", "dump", "ferry_strict"], as: [[String: String]].self)) ?? []
            return Set(entries.map { "\($0["port"] ?? "")=\($0["mtls_only"] ?? "")" }) == ["*=true", "9000=false"]
        }, "the server's STRICT address and its PERMISSIVE port reach ferry_strict")

        setup.agent.kill9()
        let pins = BPFFSList.links(setup.agent.pinDirectory)
        #expect(pins.count == FerryDatapath.objects.flatMap(\.programs).count, "programs stay pinned after kill -9: \(pins)")

        let direct = try setup.send(to: "\(setup.server.ipv4):9000", bytes: 1000)
        #expect(direct.ok, "\(direct.output)")
        var counters = try setup.agent.ctlJSON(["maps", "dump", "ferry_counters"], as: [[String: String]].self)
        #expect(counters.first { $0["counter"] == "fail_open" }?["value"] == "1")
        // The client fails open, but never into a STRICT port: refused in connect().
        let refused = try setup.send(to: "\(setup.server.ipv4):9001", bytes: 1000)
        #expect(!refused.ok && refused.output.contains("Operation not permitted"), "\(refused.output)")
        counters = try setup.agent.ctlJSON(["maps", "dump", "ferry_counters"], as: [[String: String]].self)
        #expect(counters.first { $0["counter"] == "fail_closed" }?["value"] == "1")

        // Back to a server outside the mesh: captured, passed through.
        setup.agent.removeConfig("server.yaml")
        try setup.agent.start()
        #expect(try setup.send(to: "\(setup.server.ipv4):9000", bytes: 1000).ok)
        let status = try setup.status()
        #expect(status.connectionsOpened == 1, "captured again once ferryd is back")
        #expect(status.kernelCounters["redirected"] == 1)

        setup.agent.stop()
        let unload = try setup.agent.ctl(["unload"])
        #expect(unload.ok, "\(unload.output)")
        #expect(!FileManager.default.fileExists(atPath: setup.agent.pinDirectory))
        let attached = Shell.run(["bpftool", "cgroup", "show", setup.node.cgroup])
        #expect(!attached.stdout.contains("ferry_"), "\(attached.stdout)")
    }

    /// MeshConfig `failMode: closed`: while ferryd is down every captured
    /// connect is refused in the kernel, whatever the destination; once it is
    /// back the same connect is served.
    @Test func failModeClosedRefusesWhileFerrydIsDown() throws {
        let setup = try Setup("failclosed")
        defer { setup.lab.tearDown() }
        try setup.agent.writeConfig("mesh.yaml", """
            apiVersion: ferry.dev/v1alpha1
            kind: MeshConfig
            metadata: {name: mesh}
            spec: {failMode: closed}
            """)
        #expect(poll(timeout: 5) {
            let entries = (try? setup.agent.ctlJSON(["maps", "dump", "ferry_enrolled"], as: [[String: String]].self)) ?? []
            return entries.first?["fail_closed"] == "true"
        }, "the workload's entry carries the fail mode for the kernel")
        #expect(try setup.send(to: "\(setup.server.ipv4):9000", bytes: 1000).ok)

        setup.agent.kill9()
        let refused = try setup.send(to: "\(setup.server.ipv4):9000", bytes: 1000)
        #expect(!refused.ok && refused.output.contains("Operation not permitted"), "\(refused.output)")
        let counters = try setup.agent.ctlJSON(["maps", "dump", "ferry_counters"], as: [[String: String]].self)
        #expect(counters.first { $0["counter"] == "fail_closed" }?["value"] == "1", "\(counters)")
        #expect(counters.first { $0["counter"] == "fail_open" }?["value"] == "0", "\(counters)")

        try setup.agent.start()
        let served = try setup.send(to: "\(setup.server.ipv4):9000", bytes: 1000)
        #expect(served.ok && served.stdout.hasPrefix("1000 "), "\(served.output)")
    }

    @Test func ferryctlEnrollsAndUnenrollsWithoutEditingYAML() throws {
        let setup = try Setup("enroll", enrollClient: false)
        defer { setup.lab.tearDown() }
        let agent = setup.agent
        let enrolled = try agent.ctl(["enroll", "client", "--cgroup", setup.node.relativeCgroup("client")])
        #expect(enrolled.ok && enrolled.stdout.contains("enrolled: yes"), "\(enrolled.output)")
        #expect(try setup.status().enrolledWorkloads == ["default/client"])
        #expect(try setup.send(to: "\(setup.server.ipv4):9000", bytes: 1000).ok)
        #expect(try setup.status().kernelCounters["redirected"] == 1)

        // By the pid of a process inside, with labels and ports.
        let sleeper = try setup.node.spawn("sleeper", in: "web", ["sleep", "600"])
        let byPID = try agent.ctl(["enroll", "web", "--namespace", "shop", "--pid", "\(sleeper.pid)",
                                   "--label", "app=web", "--port", "http=8080"])
        #expect(byPID.ok, "\(byPID.output)")
        let workloads = try agent.ctlJSON(["workloads"], as: [AdminAPI.WorkloadInfo].self)
        let web = workloads.first { $0.namespace == "shop" && $0.name == "web" }
        #expect(web?.enrolled == true && web?.cgroup == setup.node.relativeCgroup("web"), "\(workloads)")

        // Bad input: named, nothing written.
        for (arguments, message) in [
            (["enroll", "Bad_Name", "--cgroup", setup.node.relativeCgroup("web")], "metadata.name"),
            (["enroll", "ghost", "--cgroup", "/no/such/cgroup"], "no cgroup /no/such/cgroup"),
            (["enroll", "ghost"], "--cgroup PATH or --pid PID"),
            (["enroll", "ghost", "--cgroup", "/"], "root cgroup"),
            (["enroll", "ghost", "--cgroup", setup.node.relativeCgroup("web"), "--port", "http=99999"], "not a port number"),
            (["unenroll", "ghost"], "no file of `ferryctl enroll` for default/ghost"),
        ] {
            let refused = try agent.ctl(arguments)
            #expect(!refused.ok && refused.stderr.contains(message), "\(arguments): \(refused.output)")
        }
        #expect(try setup.status().configErrors.isEmpty)

        let removed = try agent.ctl(["unenroll", "client"])
        #expect(removed.ok && removed.stdout.contains("enrolled: no"), "\(removed.output)")
        #expect(try setup.status().enrolledWorkloads == ["shop/web"])

        // With the agent down: written for its next start.
        agent.stop()
        let offline = try agent.ctl(["enroll", "client", "--config-dir", agent.configDirectory, "--node", setup.node.name,
                                     "--address", setup.node.ipv4, "--cgroup", setup.node.relativeCgroup("client")])
        #expect(offline.ok && offline.stdout.contains("pending"), "\(offline.output)")
        try agent.start()
        #expect(poll(timeout: 5) { (try? setup.status().enrolledWorkloads) == ["default/client", "shop/web"] })
    }

    @Test func manyShortConnectionsLeakNothing() throws {
        let setup = try Setup("leaks")
        defer { setup.lab.tearDown() }
        let pid = try #require(setup.agent.process?.pid)
        // Warm up once so lazily created descriptors (event loops, pools) exist.
        #expect(try setup.send(to: "\(setup.server.ipv4):9000", bytes: 10).ok)
        let fdsBefore = openDescriptors(pid)

        let result = try setup.node.run(in: "client", ["python3", Paths.testTool, "many", "--to", "\(setup.server.ipv4):9000",
                                                       "--concurrent", "100", "--sequential", "1000"], timeout: 300)
        #expect(result.ok, "\(result.output)")
        #expect(result.stdout.contains("failures 0"))

        #expect(poll(timeout: 5) { (try? setup.status().liveConnections) == 0 })
        let status = try setup.status()
        #expect(status.connectionsClosed == 1101)
        #expect(poll(timeout: 5) { openDescriptors(pid) <= fdsBefore }, "descriptors: \(fdsBefore) → \(openDescriptors(pid))")
        let maps = try setup.agent.ctlJSON(["maps"], as: [[String: JSONValue]].self)
        for name in ["ferry_pending", "ferry_tuples"] {
            let entries = maps.first { $0["name"]?.string == name }?["entries"]?.int
            #expect(entries == 0, "\(name) holds \(entries ?? -1) entries after all connections closed")
        }
        let conns = maps.first { $0["name"]?.string == "ferry_conns" }?["entries"]?.int ?? -1
        #expect(conns >= 0 && conns <= 4, "only ferryd's own long-lived sockets may remain, found \(conns)")
    }

    @Test func originalDestinationIsAnsweredLikeIptables() throws {
        // No ferryd: programs loaded by ferryctl, the workload enrolled by hand, and
        // a plain Python listener on :15001 asking SO_ORIGINAL_DST.
        let lab = try TestLab("origdst")
        defer { lab.tearDown() }
        let node = try lab.addHost("node")
        let pins = lab.pinDirectory(node.name)
        let env = ["env", "FERRY_PIN_DIR=\(pins)"]
        let load = try node.run(in: "ctl", env + [Paths.ferryctl, "load", "--cgroup-root", node.cgroup, "--bpf-objects", Paths.bpfObjects])
        #expect(load.ok, "\(load.output)")
        let client = try node.cgroup("client")
        let id = try cgroupID(client)
        #expect(Shell.run(["bpftool", "map", "update", "pinned", "\(pins)/ferry_enrolled", "key"] + bytes(id, 8)
                          + ["value"] + bytes(7, 4) + bytes(0, 4)).ok)
        // Capture everything (what ferryd writes from the default MeshConfig).
        #expect(Shell.run(["bpftool", "map", "update", "pinned", "\(pins)/ferry_capture", "key"] + bytes(96, 4)
                          + bytes(0, 8) + ["0", "0", "0xff", "0xff"] + bytes(0, 4) + ["value"] + bytes(1, 4)).ok)
        // The client is gone before the listener accepts, as a fire-and-forget
        // client can be: the answer must outlive the workload's socket.
        let listener = try node.spawn("origdst", ["python3", Paths.testTool, "origdst", "--listen", "127.0.0.1:15001",
                                                  "--accept-after", "1"])
        #expect(listener.waitForOutput("listening"))
        let connect = try node.run(in: "client", ["python3", "-c",
            "import socket; s=socket.create_connection(('198.18.7.7', 4242), timeout=5); s.close()"])
        let counters = Shell.run(["bpftool", "map", "dump", "pinned", "\(pins)/ferry_counters"]).stdout
        #expect(poll(timeout: 15) { listener.stdout.contains("198.18.7.7:4242") },
                "listener: \(listener.stdout) \(listener.stderr) client: \(connect.output) counters: \(counters)")
        // Closed and read: nothing is left behind.
        #expect(poll(timeout: 5) {
            Shell.run(["bpftool", "-j", "map", "dump", "pinned", "\(pins)/ferry_tuples"]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines) == "[]"
        })
        let unload = try node.run(in: "ctl", env + [Paths.ferryctl, "unload"])
        #expect(unload.ok, "\(unload.output)")
    }
}

/// Little-endian bytes for bpftool's "key"/"value" arguments.
func bytes(_ value: UInt64, _ count: Int) -> [String] {
    (0..<count).map { String((value >> (8 * UInt64($0))) & 0xff) }
}

func cgroupID(_ path: String) throws -> UInt64 {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.systemFileNumber] as? NSNumber)?.uint64Value ?? 0
}

func openDescriptors(_ pid: Int32) -> Int {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
}

enum BPFFSList {
    static func links(_ pinDirectory: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: pinDirectory + "/links")) ?? []
    }
}

/// Enough of JSON to read ferryctl's generic output.
enum JSONValue: Decodable {
    case string(String), number(Double), bool(Bool), other

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else { self = .other }
    }

    var string: String? { if case .string(let s) = self { s } else { nil } }
    var int: Int? { if case .number(let n) = self { Int(n) } else { nil } }
}
