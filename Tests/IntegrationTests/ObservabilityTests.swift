import FerryProxy
import Foundation
import Testing

/// Issue 6: a real Prometheus scrapes two agents; ferryctl against a live
/// agent; top against iperf3; kernel RTT over a slowed link.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct ObservabilityTests {
    struct Setup {
        let mesh: TestMesh
        var a: TestHost { mesh.nodes[0] }
        var b: TestHost { mesh.nodes[1] }
        var agentA: TestAgent { mesh.agents[0] }

        /// `everySeries`: also an HTTP Service (L7) and a DENY policy on echo's
        /// port 9001, so that every panel of the dashboard has something to show.
        init(_ name: String, delays: [Int: Double] = [:], everySeries: Bool = false) throws {
            mesh = try TestMesh(name, delays: delays)
            do {
                try mesh.addWorkload("client", on: mesh.nodes[0])
                try mesh.addWorkload("echo", on: mesh.nodes[1], ports: ["tcp": 9000, "iperf": 5201, "http": 8080])
                try mesh.addService("echo", vip: "198.19.0.10", port: 80, targetPort: 9000)
                try mesh.addService("iperf", vip: "198.19.0.11", port: 5201, targetPort: 5201, selector: ["app": "echo"])
                let sink = try mesh.nodes[1].spawn("sink", in: "echo", ["python3", Paths.testTool, "sink", "--listen", "[::]:9000"])
                guard sink.waitForOutput("listening") else { throw TestLab.LabError("sink did not start") }
                if everySeries {
                    try mesh.addService("web", vip: "198.19.0.12", port: 80, targetPort: 8080, selector: ["app": "echo"], portName: "http")
                    let web = try mesh.nodes[1].spawn("web", in: "echo", ["python3", Paths.tool("httpserver.py"), "--port", "8080", "--name", "web"])
                    guard web.waitForOutput("listening") else { throw TestLab.LabError("web did not start: \(web.stderr)") }
                    try """
                    apiVersion: security.istio.io/v1
                    kind: AuthorizationPolicy
                    metadata: {name: no-9001, namespace: demo}
                    spec:
                      selector: {matchLabels: {app: echo}}
                      action: DENY
                      rules: [{to: [{operation: {ports: ["9001"]}}]}]

                    """.write(toFile: mesh.configDirectory + "/policy.yaml", atomically: true, encoding: .utf8)
                }
                try mesh.start()
                guard mesh.waitForCertificates() else { throw TestLab.LabError("no certificates") }
            } catch {
                mesh.tearDown()
                throw error
            }
        }

        func metrics(_ host: TestHost) throws -> String { try host.run(in: "ctl", ["curl", "-s", "localhost:15020/metrics"]).stdout }
    }

    /// promtool's lint findings about Ferry's own series (`ferry_*`): Istio's
    /// names stay as Istio defines them (istio_request_duration_milliseconds
    /// is not in base units, and promtool says so), ours may have none.
    static func ferryLintFindings(_ exposition: String, file: String) throws -> [String] {
        try exposition.write(toFile: file, atomically: true, encoding: .utf8)
        let check = Shell.sh("promtool check metrics < \(file)")
        // 0: clean, 3: lint findings; anything else is an exposition promtool cannot read.
        guard check.status == 0 || check.status == 3 else { return ["promtool failed (\(check.status)): \(check.output)"] }
        return check.output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("ferry_") }
    }

    @Test func promtoolFlagsAFerrySeriesOutsideTheConventions() throws {
        // The lint check itself: it must catch what the issue found.
        let file = NSTemporaryDirectory() + "ferry-lint-\(getpid()).txt"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let bad = """
        # HELP ferry_tcp_rtt_microseconds RTT
        # TYPE ferry_tcp_rtt_microseconds histogram
        ferry_tcp_rtt_microseconds_bucket{le="+Inf"} 1
        ferry_tcp_rtt_microseconds_sum 1
        ferry_tcp_rtt_microseconds_count 1
        # HELP istio_request_duration_milliseconds Istio's own
        # TYPE istio_request_duration_milliseconds histogram
        istio_request_duration_milliseconds_bucket{le="+Inf"} 1
        istio_request_duration_milliseconds_sum 1
        istio_request_duration_milliseconds_count 1

        """
        #expect(try Self.ferryLintFindings(bad, file: file) == [#"ferry_tcp_rtt_microseconds use base unit "seconds" instead of "microseconds""#])
    }

    @Test func aRealPrometheusScrapesBothAgents() throws {
        let setup = try Setup("prometheus", everySeries: true)
        defer { setup.mesh.tearDown() }
        let dir = setup.mesh.lab.logDirectory + "/prometheus"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try """
        global: {scrape_interval: 1s, evaluation_interval: 1s}
        scrape_configs:
        - job_name: ferry
          static_configs: [{targets: ["\(setup.a.ipv4):15020", "\(setup.b.ipv4):15020"]}]

        """.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = try setup.a.spawn("prometheus", in: "prometheus", [
            "prometheus", "--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
            "--web.listen-address=127.0.0.1:9090",
        ])
        let hold = try setup.a.spawn("hold", in: "client", ["python3", Paths.testTool, "hold", "--to", "198.19.0.10:80", "--seconds", "14"])
        #expect(hold.waitForOutput("connected"))
        // Traffic for every series: short connections (close records), an
        // HTTP request (L7), and a connection the destination's policy denies.
        let burst = try setup.a.run(in: "client", ["python3", Paths.testTool, "burst", "--to", "198.19.0.10:80", "--count", "10"])
        #expect(burst.ok, "\(burst.output)")
        let curl = try setup.a.run(in: "client", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://198.19.0.12/"])
        #expect(curl.stdout == "200", "\(curl.output)")
        let denied = try setup.a.run(in: "client", ["python3", Paths.testTool, "send", "--to", "\(setup.b.ipv4):9001", "--bytes", "10"])
        #expect(!denied.ok, "port 9001 is denied")
        #expect(poll(timeout: 10, interval: 0.5) {
            Exposition((try? setup.metrics(setup.a)) ?? "").sum("ferry_tcp_socket_closes_total", ["destination_workload": "echo"]) >= 10
        }, "close records of the short connections")
        for host in [setup.a, setup.b] {
            let findings = try Self.ferryLintFindings(try setup.metrics(host), file: dir + "/metrics-\(host.name).txt")
            #expect(findings.isEmpty, "promtool on \(host.name): \(findings)")
        }
        let query = "sum by (source_workload, destination_workload) (rate(istio_tcp_sent_bytes_total[30s]))"
        var answer = ""
        let found = poll(timeout: 40, interval: 1) {
            let result = (try? setup.a.run(in: "ctl", ["curl", "-s", "--get", "--data-urlencode", "query=\(query)",
                                                       "http://127.0.0.1:9090/api/v1/query"])) ?? Shell.Result(status: 1, stdout: "", stderr: "")
            answer = result.stdout
            return answer.contains("\"source_workload\":\"client\"") && answer.contains("\"destination_workload\":\"echo\"")
        }
        #expect(found, "PromQL answer: \(answer) prometheus: \(prometheus.stderr.suffix(500))")
        // Kiali's graph groups by canonical service and cluster; the destination
        // reporter learns the source's from the HBONE baggage.
        let kiali = "sum by (source_canonical_service, source_cluster, destination_canonical_service, destination_cluster)"
            + " (istio_tcp_connections_opened_total{reporter=\"destination\"})"
        let pair = try setup.a.run(in: "ctl", ["curl", "-s", "--get", "--data-urlencode", "query=\(kiali)",
                                                "http://127.0.0.1:9090/api/v1/query"]).stdout
        for label in ["\"source_canonical_service\":\"client\"", "\"destination_canonical_service\":\"echo\"",
                      "\"source_cluster\":\"Kubernetes\"", "\"destination_cluster\":\"Kubernetes\""] {
            #expect(pair.contains(label), "\(label) in \(pair)")
        }
        let up = try setup.a.run(in: "ctl", ["curl", "-s", "--get", "--data-urlencode", "query=up", "http://127.0.0.1:9090/api/v1/query"]).stdout
        #expect(up.components(separatedBy: "\"1\"]").count - 1 == 2, "both agents up: \(up)")

        // Every query of the Grafana dashboard is valid PromQL and finds
        // series: a panel over a name no agent exports stays empty, and
        // Prometheus calls that a success.
        let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Paths.packageRoot + "/Deploy/grafana/ferry-dashboard.json"))) as? [String: Any]
        let panels = dashboard?["panels"] as? [[String: Any]] ?? []
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(expressions.count >= 15)
        for expression in expressions {
            let query = expression.replacingOccurrences(of: "$job", with: ".*")
            var result = ""
            let found = poll(timeout: 20, interval: 1) {
                result = (try? setup.a.run(in: "ctl", ["curl", "-s", "--get", "--data-urlencode", "query=\(query)",
                                                       "http://127.0.0.1:9090/api/v1/query"]).stdout) ?? ""
                return result.contains("\"status\":\"success\"") && !result.contains("\"result\":[]")
            }
            #expect(found, "dashboard query \(expression) returns no series: \(result)")
        }
    }

    @Test func everyFerryctlCommandAgainstALiveAgent() throws {
        let setup = try Setup("ferryctl")
        defer { setup.mesh.tearDown() }
        let hold = try setup.a.spawn("hold", in: "client", ["python3", Paths.testTool, "hold", "--to", "198.19.0.10:80", "--seconds", "8"])
        #expect(hold.waitForOutput("connected"))
        let agent = setup.agentA
        try """
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {name: echo-readers, namespace: demo}
        spec:
          selector: {matchLabels: {app: echo}}
          rules: [{from: [{source: {principals: ["cluster.local/ns/demo/sa/client"]}}]}]
        """.write(toFile: setup.mesh.configDirectory + "/policy.yaml", atomically: true, encoding: .utf8)
        #expect(poll(timeout: 5) { (try? agent.ctl(["policies"]).stdout.contains("echo-readers")) == true })
        // Each command, as a table and as JSON, says what this mesh holds: the
        // words expected in the table, and the JSON decoded and checked.
        let commands: [(command: [String], table: [String], json: (Any) -> Bool)] = [
            (["status"], ["node node1", "ready:        yes", "enrolled:     demo/client", "1 live", "7/7 attached"], { json in
                let status = json as? [String: Any]
                return status?["node"] as? String == "node1" && status?["liveConnections"] as? Int == 1
                    && (status?["enrolledWorkloads"] as? [String]) == ["demo/client"]
            }),
            (["workloads"], ["demo       client  node1", "demo       echo    node2", "yes", "no"], { json in
                let rows = json as? [[String: Any]] ?? []
                return rows.count == 2 && rows.contains { $0["key"] as? String == "demo/client" && $0["enrolled"] as? Bool == true }
                    && rows.contains { $0["key"] as? String == "demo/echo" && $0["enrolled"] as? Bool == false && $0["node"] as? String == "node2" }
            }),
            (["services"], ["demo/echo", "198.19.0.10", "80/tcp", "demo/iperf"], { json in
                let rows = json as? [[String: Any]] ?? []
                return rows.contains { $0["hostname"] as? String == "echo.demo.svc.cluster.local" && ($0["vips"] as? [String]) == ["198.19.0.10"]
                    && ($0["endpoints"] as? [String]) == ["demo/echo"] }
            }),
            (["policies"], ["echo-readers", "ALLOW"], { json in
                (json as? [[String: Any]] ?? []).contains { "\($0)".contains("echo-readers") }
            }),
            (["certs"], ["spiffe://cluster.local/ns/demo/sa/client", "valid"], { json in
                let rows = json as? [[String: Any]] ?? []
                return rows.count == 1 && rows[0]["identity"] as? String == "spiffe://cluster.local/ns/demo/sa/client"
                    && rows[0]["state"] as? String == "valid"
            }),
            (["connections"], ["demo/client  demo/echo", "198.19.0.10:80", "ESTABLISHED"], { json in
                (json as? [[String: Any]] ?? []).contains { $0["sourceWorkload"] as? String == "demo/client"
                    && $0["destinationWorkload"] as? String == "demo/echo" && $0["state"] as? String == "ESTABLISHED"
                    && ($0["bytesSent"] as? Int ?? 0) > 0 && $0["route"] as? String == "hbone" }
            }),
            (["connections", "--workload", "echo", "--direction", "inbound"], ["DIRECTION"], { json in
                (json as? [[String: Any]] ?? []).isEmpty  // node1 carries no inbound connection to echo
            }),
            (["maps"], ["ferry_conns", "ferry_enrolled", "lru_hash"], { json in
                let rows = json as? [[String: Any]] ?? []
                let enrolled = rows.first { $0["name"] as? String == "ferry_enrolled" }
                return rows.count >= 12 && enrolled?["entries"] as? Int == 1
                    && (rows.first { $0["name"] as? String == "ferry_conns" }?["entries"] as? Int ?? 0) >= 1
            }),
            (["maps", "dump", "ferry_enrolled"], ["CGROUP_ID", "false"], { json in
                (json as? [[String: Any]] ?? []).count == 1
            }),
            (["top", "--once", "--interval", "0.5"], ["demo/client  demo/echo"], { json in
                (json as? [[String: Any]] ?? []).contains { $0["source"] as? String == "demo/client"
                    && $0["destination"] as? String == "demo/echo" && ($0["bytesPerSecond"] as? Double ?? 0) > 0 }
            }),
            (["logging"], ["log level: "], { json in (json as? [String: Any])?["level"] is String }),
            (["check"], ["ok      kernel", "program type sk_lookup"], { json in
                let rows = json as? [[String: Any]] ?? []
                return rows.count >= 10 && rows.allSatisfy { $0["ok"] as? Bool == true }
            }),
        ]
        for (command, words, check) in commands {
            let table = try agent.ctl(command)
            #expect(table.ok, "\(command): \(table.output)")
            for word in words { #expect(table.stdout.contains(word), "\(command) table lacks '\(word)': \(table.stdout)") }
            let json = try agent.ctl(command + ["-o", "json"])
            let decoded = try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8), options: [.fragmentsAllowed])
            #expect(json.ok && decoded.map(check) == true, "\(command) -o json: \(json.output.prefix(2000))")
        }
        #expect(try agent.ctl(["status"]).stdout.contains("ready:        yes"))
        #expect(try agent.ctlJSON(["status"], as: AdminAPI.Status.self).waitingFor == [])
        let dump = try agent.ctl(["config_dump"])
        #expect(dump.ok && dump.stdout.contains("\"workloads\""))
        let set = try agent.ctlJSON(["logging", "debug"], as: AdminAPI.LogLevel.self)
        #expect(set.level == "debug")
        #expect(try agent.ctlJSON(["logging"], as: AdminAPI.LogLevel.self).level == "debug")
        let connections = try agent.ctlJSON(["connections", "--direction", "outbound"], as: [[String: JSONValue]].self)
        #expect(connections.contains { $0["sourceWorkload"]?.string == "demo/client" && $0["destinationWorkload"]?.string == "demo/echo" })

        // With the agent down: a clear error, and the kernel's view where there is one.
        agent.stop()
        let status = try agent.ctl(["status"])
        #expect(status.status == 1 && status.stdout.contains("DOWN"))
        let workloads = try agent.ctl(["workloads"])
        #expect(workloads.status != 0 && workloads.stderr.contains("ferryd is not running"))
        let maps = try agent.ctl(["maps"])
        #expect(maps.ok && maps.stdout.contains("ferry_conns"), "maps from the pins: \(maps.output)")
        let check = try agent.ctl(["check"])
        #expect(check.stdout.contains("ok      map type ringbuf"), "\(check.output)")
    }

    @Test func topShowsAnIperf3RateWithinTwentyPercent() throws {
        let setup = try Setup("top")
        defer { setup.mesh.tearDown() }
        let server = try setup.b.spawn("iperf-server", in: "echo", ["iperf3", "-s", "-p", "5201"])
        _ = server.waitForOutput("listening", timeout: 5)
        let client = try setup.a.spawn("iperf-client", in: "client", ["iperf3", "-c", "198.19.0.11", "-p", "5201", "-t", "8", "-J"])
        usleep(3_000_000)
        let top = try setup.agentA.ctlJSON(["top", "--once", "--interval", "3"], as: [[String: JSONValue]].self)
        #expect(client.waitForExit(timeout: 30) == 0, "\(client.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(client.stdout.utf8)) as? [String: Any]
        let end = report?["end"] as? [String: Any]
        let sent = (end?["sum_sent"] as? [String: Any])?["bits_per_second"] as? Double ?? 0
        let pair = top.first { $0["source"]?.string == "demo/client" && $0["destination"]?.string == "demo/echo" }
        let topBits = (pair?["bytesPerSecond"]?.double ?? 0) * 8
        #expect(sent > 0 && topBits > 0, "iperf3 \(sent), top \(topBits)")
        #expect(abs(topBits - sent) / sent <= 0.2, "top \(topBits) bit/s vs iperf3 \(sent) bit/s")
    }

    /// The link's RTT is the node pair's (the HBONE socket carries every
    /// pair between the two nodes); the workload pair's own sockets are the
    /// legs on each host, and the link is not credited to them.
    @Test func aSlowLinkShowsUpAsTheNodePairsKernelRTT() throws {
        let setup = try Setup("rtt", delays: [1: 5])
        defer { setup.mesh.tearDown() }
        let hold = try setup.a.spawn("hold", in: "client", ["python3", Paths.testTool, "hold", "--to", "198.19.0.10:80", "--seconds", "6"])
        #expect(hold.waitForOutput("connected"))
        var srtt: Double = 0
        _ = poll(timeout: 4, interval: 0.3) {
            let rows = (try? setup.agentA.ctlJSON(["connections", "--direction", "outbound"], as: [[String: JSONValue]].self)) ?? []
            srtt = rows.compactMap { $0["srttMicroseconds"]?.double }.max() ?? 0
            return srtt >= 5000
        }
        #expect(srtt >= 5000, "srtt \(srtt) µs over a 5 ms link")
        usleep(1_500_000)
        let metrics = Exposition(try setup.metrics(setup.a))
        let node = metrics.mean("ferry_node_tcp_rtt_seconds", ["peer_node": "node2"]) ?? 0
        #expect(node >= 0.005, "node pair RTT mean \(node) s over a 5 ms link")
        let pair = ["source_workload": "client", "destination_workload": "echo", "destination_workload_namespace": "demo", "leg": "client"]
        #expect(metrics.sum("ferry_tcp_rtt_seconds_count", pair) > 0, "the workload's own socket is observed while it lives")
        let leg = metrics.mean("ferry_tcp_rtt_seconds", pair) ?? 1
        #expect(leg < 0.005, "the client leg is on one host: \(leg) s")
    }
}

extension JSONValue {
    var double: Double? { if case .number(let n) = self { n } else { nil } }
}
