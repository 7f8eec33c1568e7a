import FerryProxy
import Foundation
import Testing

/// Issue 3: two nodes, a CA, SPIFFE certificates and the HBONE mTLS tunnel, with
/// real agents, real BPF and real traffic between network namespaces.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct MeshTests {
    /// node1 runs the CA, an agent and the `client` workload; node2 runs an agent
    /// and the `echo` workload (the sink on 9000) behind Service echo 198.19.0.10:80.
    struct Setup {
        let mesh: TestMesh
        var a: TestHost { mesh.nodes[0] }
        var b: TestHost { mesh.nodes[1] }
        let sink: BackgroundProcess

        init(_ name: String, meshConfig: String = "") throws {
            mesh = try TestMesh(name, meshConfig: meshConfig)
            do {
                try mesh.addWorkload("client", on: mesh.nodes[0])
                try mesh.addWorkload("echo", on: mesh.nodes[1], ports: ["tcp": 9000])
                try mesh.addService("echo", vip: "198.19.0.10", port: 80, targetPort: 9000)
                sink = try mesh.nodes[1].spawn("sink", in: "echo", ["python3", Paths.testTool, "sink", "--listen", "[::]:9000"])
                guard sink.waitForOutput("listening") else { throw TestLab.LabError("sink did not start") }
                try mesh.start()
                guard mesh.waitForCertificates() else { throw TestLab.LabError("agents got no certificates: \(mesh.agents.map { $0.process?.stderr.suffix(1500) ?? "" })") }
            } catch {
                mesh.tearDown()
                throw error
            }
        }

        func send(bytes: Int, to target: String = "198.19.0.10:80") throws -> Shell.Result {
            try a.run(in: "client", ["python3", Paths.testTool, "send", "--to", target, "--bytes", "\(bytes)"])
        }

        func metrics(_ host: TestHost) throws -> String {
            try host.run(in: "ctl", ["curl", "-s", "localhost:15020/metrics"]).stdout
        }
    }

    @Test func crossNodeTrafficIsMutualTLSWithVerifiedIdentities() throws {
        let setup = try Setup("crossnode")
        defer { setup.mesh.tearDown() }
        let result = try setup.send(bytes: 10 << 20)
        #expect(result.ok, "\(result.output)")
        #expect(result.stdout.hasPrefix("\(10 << 20) "))
        _ = poll(timeout: 3) { ((try? setup.metrics(setup.b)) ?? "").contains("reporter=\"destination\"") }
        let source = try setup.metrics(setup.a).split(separator: "\n").filter {
            $0.hasPrefix("istio_tcp_connections_opened_total") && $0.contains("reporter=\"source\"")
        }
        #expect(source.contains { $0.contains("connection_security_policy=\"mutual_tls\"") && $0.contains("destination_workload=\"echo\"")
            && $0.contains("destination_service=\"echo.demo.svc.cluster.local\"") }, "\(source)")
        let destination = try setup.metrics(setup.b).split(separator: "\n").filter {
            $0.hasPrefix("istio_tcp_received_bytes_total") || $0.hasPrefix("istio_tcp_sent_bytes_total")
        }.filter { $0.contains("reporter=\"destination\"") }
        #expect(destination.contains { $0.contains("source_principal=\"spiffe://cluster.local/ns/demo/sa/client\"")
            && $0.contains("connection_security_policy=\"mutual_tls\"") }, "\(destination)")
        let sentLine = destination.first { $0.hasPrefix("istio_tcp_sent_bytes_total") }
        #expect(sentLine?.hasSuffix(" \(10 << 20)") == true, "bytes from the client counted at the destination: \(sentLine ?? "-")")
    }

    @Test func theLinkCarriesOnlyTLS13AndNoPlaintext() throws {
        let setup = try Setup("capture")
        defer { setup.mesh.tearDown() }
        let pcap = setup.mesh.lab.logDirectory + "/link.pcap"
        let hub = setup.mesh.lab.namespaces[0]
        let dump = try BackgroundProcess(name: "tcpdump", arguments: ["nsenter", "--net=/run/netns/\(hub)", "tcpdump", "-i", "br0",
                                                                      "-U", "-w", pcap, "tcp"],
                                         logDirectory: setup.mesh.lab.logDirectory)
        defer { dump.stop() }
        _ = poll(timeout: 5) { dump.stderr.contains("listening") }
        let marker = "FERRY-SECRET-MARKER-0123456789"
        let result = try setup.a.run(in: "client", ["python3", "-c", """
            import socket
            s = socket.create_connection(("198.19.0.10", 80), timeout=10)
            s.sendall(b"\(marker)" * 1000)
            s.shutdown(socket.SHUT_WR)
            print(s.recv(4096).decode())
            """])
        #expect(result.ok && result.stdout.hasPrefix("30000 "), "\(result.output)")
        usleep(500_000)
        dump.stop()
        let raw = try Data(contentsOf: URL(fileURLWithPath: pcap))
        #expect(raw.count > 30_000, "the capture saw the transfer (\(raw.count) bytes)")
        #expect(raw.range(of: Data(marker.utf8)) == nil, "the marker crossed the link in clear")
        let hellos = Shell.run(["tshark", "-r", pcap, "-o", "tcp.desegment_tcp_streams:TRUE", "-d", "tcp.port==15008,tls",
                                "-Y", "tls.handshake.type == 2", "-T", "fields", "-E", "separator=,",
                                "-e", "tls.handshake.extensions.supported_version", "-e", "tls.handshake.ciphersuite"])
        #expect(hellos.ok, "\(hellos.output)")
        let hellosSeen = hellos.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces).split(separator: ",") }
        let versions = hellosSeen.map { $0.first.map(String.init) ?? "" }
        #expect(!versions.isEmpty && versions.allSatisfy { $0 == "0x0304" }, "ServerHello versions: \(versions)")
        // AES-GCM (DESIGN.md §2): TLS_AES_128_GCM_SHA256 or TLS_AES_256_GCM_SHA384, never ChaCha20.
        let suites = hellosSeen.map { $0.count > 1 ? String($0[1]) : "" }
        #expect(suites.allSatisfy { ["0x1301", "0x1302"].contains($0) }, "ServerHello cipher suites: \(suites)")
    }

    @Test func anIndependentClientNeedsAValidWorkloadCertificate() throws {
        let setup = try Setup("independent")
        defer { setup.mesh.tearDown() }
        let dir = setup.mesh.lab.logDirectory
        let gen = Paths.tool("certgen.py")
        let caDir = setup.mesh.caDirectory
        func make(_ arguments: [String]) throws { try setup.mesh.lab.check(Shell.run(["/usr/bin/python3", gen] + arguments)) }
        try make(["leaf", "--ca-dir", caDir, "--uri", "spiffe://cluster.local/ns/demo/sa/outsider", "--out", dir + "/valid"])
        try make(["leaf", "--ca-dir", caDir, "--uri", "spiffe://cluster.local/ns/demo/sa/outsider", "--out", dir + "/expired", "--expired"])
        try make(["rogue", "--uri", "spiffe://cluster.local/ns/demo/sa/outsider", "--out", dir + "/rogue"])
        try make(["leaf", "--ca-dir", caDir, "--uri", "spiffe://other.domain/ns/demo/sa/outsider", "--out", dir + "/foreign"])

        func connect(_ cert: String?) throws -> Shell.Result {
            var arguments = ["/usr/bin/python3", Paths.tool("hbone_client.py"), "--agent", "\(setup.b.ipv4):15008",
                             "--authority", "\(setup.b.ipv4):9000", "--ca", caDir + "/ca.crt", "--send", "hello"]
            if let cert { arguments += ["--cert", "\(dir)/\(cert).crt", "--key", "\(dir)/\(cert).key"] }
            return try setup.a.run(in: "outsider", arguments, timeout: 30)
        }
        let valid = try connect("valid")
        #expect(valid.ok, "\(valid.output)")
        #expect(valid.stdout.contains("TLS TLSv1.3") && valid.stdout.contains("STATUS 200") && valid.stdout.contains("5 "), "\(valid.output)")
        for refused in [nil, "expired", "rogue", "foreign"] {
            let result = try connect(refused)
            #expect(!result.ok && !result.stdout.contains("STATUS 200"), "\(refused ?? "no certificate"): \(result.output)")
        }
        let status = try setup.mesh.agents[1].ctlJSON(["status"], as: AdminAPI.Status.self)
        let refusals = status.hboneRefusals
        #expect(refusals["noCertificate", default: 0] >= 1, "\(refusals)")
        #expect(refusals["expired", default: 0] >= 1, "\(refusals)")
        #expect(refusals["untrustedIssuer", default: 0] >= 1, "\(refusals)")
        #expect(refusals["wrongTrustDomain", default: 0] >= 1, "\(refusals)")
        let logs = setup.mesh.agents[1].process!.stderr
        #expect(logs.contains("expired") && logs.contains("other.domain"), "refusals are logged with their reason")

        // Not CONNECT, and malformed HTTP/2: a clean error, never a crash.
        let get = try setup.a.run(in: "outsider", ["/usr/bin/python3", Paths.tool("hbone_client.py"), "--agent", "\(setup.b.ipv4):15008",
                                                  "--authority", "\(setup.b.ipv4):9000", "--method", "GET",
                                                  "--cert", dir + "/valid.crt", "--key", dir + "/valid.key"])
        #expect(get.stdout.contains("STATUS 400"), "\(get.output)")
        let garbage = try setup.a.run(in: "outsider", ["/usr/bin/python3", Paths.tool("hbone_client.py"), "--agent", "\(setup.b.ipv4):15008",
                                                      "--authority", "x", "--garbage",
                                                      "--cert", dir + "/valid.crt", "--key", dir + "/valid.key"])
        #expect(garbage.stdout.contains("GOAWAY") || garbage.stdout.contains("CLOSED"), "\(garbage.output)")
        #expect(setup.mesh.agents[1].process!.isRunning)

        // On an HTTP port a peer agent may say it judged the requests itself
        // (`ferry-l7: checked`); the destination still applies what the
        // connection alone decides, so a denied principal cannot talk past it.
        try setup.mesh.addService("echo-http", vip: "198.19.0.20", port: 80, targetPort: 9000, selector: ["app": "echo"],
                                  portName: "http")
        try """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: no-outsider, namespace: demo}
        spec:
          selector: {matchLabels: {app: echo}}
          action: DENY
          rules: [{from: [{source: {principals: ["cluster.local/ns/demo/sa/outsider"]}}]}]
        """.write(toFile: setup.mesh.configDirectory + "/deny-outsider.yaml", atomically: true, encoding: .utf8)
        var claimed = Shell.Result(status: -1, stdout: "", stderr: "")
        #expect(poll(timeout: 10, interval: 0.3) {
            claimed = (try? setup.a.run(in: "outsider", [
                "/usr/bin/python3", Paths.tool("hbone_client.py"), "--agent", "\(setup.b.ipv4):15008",
                "--authority", "\(setup.b.ipv4):9000", "--ca", caDir + "/ca.crt", "--send", "hello",
                "--cert", dir + "/valid.crt", "--key", dir + "/valid.key", "--header", "ferry-l7:checked",
            ], timeout: 30)) ?? claimed
            return claimed.stdout.contains("STATUS 403")
        }, "a denied principal claiming L7 was checked: \(claimed.output)")
    }

    @Test func theCARefusesAnotherNodesWorkload() throws {
        let setup = try Setup("carefuse")
        defer { setup.mesh.tearDown() }
        let dir = setup.mesh.lab.logDirectory
        try setup.mesh.lab.check(Shell.run(["/usr/bin/python3", Paths.tool("certgen.py"), "csr", "--uri",
                                            "spiffe://cluster.local/ns/demo/sa/echo", "--out", dir + "/steal"]))
        let csr = try String(contentsOfFile: dir + "/steal.csr", encoding: .utf8)
        let body = try JSONSerialization.data(withJSONObject: ["csr": csr, "identity": "spiffe://cluster.local/ns/demo/sa/echo"])
        try body.write(to: URL(fileURLWithPath: dir + "/steal.json"))
        let creds = setup.mesh.credentials(setup.a)
        let result = try setup.a.run(in: "ctl", ["curl", "-sk", "--cert", creds + "/node.crt", "--key", creds + "/node.key",
                                                 "-w", "\n%{http_code}", "-X", "POST", "--data-binary", "@\(dir)/steal.json",
                                                 "https://\(setup.mesh.caAddress)/v1/certificates"])
        #expect(result.stdout.hasSuffix("403"), "\(result.output)")
        #expect(result.stdout.contains("node1") || result.stdout.contains("no workload"), "the refusal says why: \(result.stdout)")
        #expect(setup.mesh.ca!.stderr.contains("spiffe://cluster.local/ns/demo/sa/echo"), "the CA logs the refusal")
    }

    @Test func manyConcurrentStreamsShareOneConnection() throws {
        let setup = try Setup("streams")
        defer { setup.mesh.tearDown() }
        let result = try setup.a.run(in: "client", ["python3", Paths.testTool, "many", "--to", "198.19.0.10:80",
                                                    "--concurrent", "200", "--sequential", "0"], timeout: 120)
        #expect(result.ok, "\(result.output)")
        let status = try setup.mesh.agents[0].ctlJSON(["status"], as: AdminAPI.Status.self)
        #expect(status.hboneConnectionsOpened == 1, "200 streams, one TLS connection: \(status.hboneConnectionsOpened)")
        let sockets = try setup.a.run(in: "ctl", ["ss", "-Htn", "state", "established", "dst", "\(setup.b.ipv4):15008"])
        #expect(sockets.stdout.split(separator: "\n").count == 1, "\(sockets.stdout)")
    }

    @Test func rotationKeepsTrafficFlowing() throws {
        let setup = try Setup("rotation", meshConfig: "  workloadCertificateTTL: 20s")
        defer { setup.mesh.tearDown() }
        let deadline = Date().addingTimeInterval(60)
        var requests = 0
        var failures: [String] = []
        while Date() < deadline {
            let result = try setup.send(bytes: 2000)
            requests += 1
            if !result.ok || !result.stdout.hasPrefix("2000 ") { failures.append(result.output) }
            usleep(200_000)
        }
        #expect(failures.isEmpty, "\(failures.count) of \(requests) failed: \(failures.prefix(3))")
        let certs = try setup.mesh.agents[0].ctlJSON(["certs"], as: [AdminAPI.Certificate].self)
        let rotations = certs.first { $0.identity.hasSuffix("/sa/client") }?.rotations ?? 0
        #expect(rotations >= 3, "a 20 s certificate rotated at half-life over 60 s: \(rotations)")
    }

    @Test func anUnreachablePeerAgentResetsTheClientPromptly() throws {
        let setup = try Setup("unreachable")
        defer { setup.mesh.tearDown() }
        setup.mesh.agents[1].stop()
        let started = Date()
        let result = try setup.send(bytes: 100)
        #expect(!result.ok)
        #expect(Date().timeIntervalSince(started) < 7, "the client learns promptly")
        _ = poll(timeout: 3) { ((try? setup.metrics(setup.a)) ?? "").contains("response_flags=\"UF\"") }
        #expect(try setup.metrics(setup.a).contains("response_flags=\"UF\""))
        #expect(setup.mesh.agents[0].process!.stderr.contains("ferry.flags=UF"))
    }
}

extension Paths {
    static func tool(_ name: String) -> String { packageRoot + "/Tests/IntegrationTests/Tools/" + name }
}
