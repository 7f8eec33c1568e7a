import FerryProxy
import FerryTelemetry
import Foundation
import Testing

/// Issue 5: HTTP traffic management in the agent, against real servers and
/// clients (curl, h2load, gRPC, Python) across two nodes.
@Suite(.serialized, .enabled(if: Privileges.isRoot, Privileges.skipReason))
struct L7Tests {
    /// node1: the client. node2: HTTP backends behind Services at 198.19.0.x.
    struct Setup {
        let mesh: TestMesh
        var a: TestHost { mesh.nodes[0] }
        var b: TestHost { mesh.nodes[1] }

        /// name → (labels, port name, port, server arguments)
        static let backends: [(String, [String: String], String, Int, [String])] = [
            ("echo-v1", ["app": "echo", "version": "v1"], "http", 9000, ["--name", "v1"]),
            ("echo-v2", ["app": "echo", "version": "v2"], "http", 9001, ["--name", "v2"]),
            ("flaky", ["app": "flaky"], "http", 9002, ["--name", "flaky", "--fail-ratio", "0.5"]),
            ("dead", ["app": "dead"], "http", 9003, ["--name", "dead", "--fail-ratio", "1"]),
            ("slow", ["app": "slow"], "http", 9004, ["--name", "slow", "--delay-ms", "1000"]),
            ("pool-ok", ["app": "pool"], "http", 9005, ["--name", "pool-ok"]),
            ("pool-bad", ["app": "pool"], "http", 9006, ["--name", "pool-bad", "--fail-ratio", "1"]),
        ]

        init(_ name: String) throws {
            mesh = try TestMesh(name)
            do {
                try mesh.addWorkload("client", on: mesh.nodes[0])
                for (name, labels, portName, port, arguments) in Self.backends {
                    try mesh.addWorkload(name, on: mesh.nodes[1], labels: labels, ports: [portName: port])
                    let server = try mesh.nodes[1].spawn(name, in: name, ["python3", Paths.tool("httpserver.py"), "--port", "\(port)"] + arguments)
                    guard server.waitForOutput("listening") else { throw TestLab.LabError("\(name) did not start: \(server.stderr)") }
                }
                try mesh.addWorkload("h2", on: mesh.nodes[1], ports: ["http2": 9100])
                let docs = mesh.lab.logDirectory + "/h2docs"
                try FileManager.default.createDirectory(atPath: docs, withIntermediateDirectories: true)
                try "hello over h2c\n".write(toFile: docs + "/index.html", atomically: true, encoding: .utf8)
                _ = try mesh.nodes[1].spawn("nghttpd", in: "h2", ["nghttpd", "--no-tls", "-d", docs, "9100"])
                try mesh.addWorkload("grpc", on: mesh.nodes[1], ports: ["grpc": 9200])
                let grpc = try mesh.nodes[1].spawn("grpc", in: "grpc", ["python3", Paths.tool("grpcecho.py"), "serve", "--port", "9200", "--name", "grpc"])
                guard grpc.waitForOutput("listening", timeout: 20) else { throw TestLab.LabError("grpc server: \(grpc.stderr)") }
                try services()
                try mesh.start()
                guard mesh.waitForCertificates() else { throw TestLab.LabError("no certificates") }
            } catch {
                mesh.tearDown()
                throw error
            }
        }

        func services() throws {
            var yaml = ""
            let http: [(String, String, [String: String])] = [
                ("echo", "198.19.0.10", ["app": "echo"]), ("echo-v1", "198.19.0.11", ["app": "echo", "version": "v1"]),
                ("echo-v2", "198.19.0.12", ["app": "echo", "version": "v2"]), ("flaky", "198.19.0.13", ["app": "flaky"]),
                ("dead", "198.19.0.14", ["app": "dead"]), ("slow", "198.19.0.15", ["app": "slow"]), ("pool", "198.19.0.16", ["app": "pool"]),
            ]
            for (name, vip, selector) in http {
                yaml += service(name, vip: vip, selector: selector, port: "{name: http, port: 80, targetPort: http}")
            }
            yaml += service("h2", vip: "198.19.0.20", selector: ["app": "h2"], port: "{name: web, appProtocol: http2, port: 80, targetPort: 9100}")
            yaml += service("grpc", vip: "198.19.0.21", selector: ["app": "grpc"], port: "{name: api, appProtocol: grpc, port: 50051, targetPort: 9200}")
            try yaml.write(toFile: mesh.configDirectory + "/services.yaml", atomically: true, encoding: .utf8)
        }

        func service(_ name: String, vip: String, selector: [String: String], port: String) -> String {
            let labels = selector.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
            return "---\napiVersion: v1\nkind: Service\nmetadata: {name: \(name), namespace: demo}\nspec:\n  clusterIP: \(vip)\n  selector: {\(labels)}\n  ports: [\(port)]\n"
        }

        /// Writes a traffic policy file and waits until node1's agent applied it.
        func apply(_ yaml: String, file: String = "traffic.yaml") throws {
            let agent = mesh.agents[0]
            let before = try agent.ctlJSON(["status"], as: AdminAPI.Status.self).configGeneration
            try yaml.write(toFile: mesh.configDirectory + "/" + file, atomically: true, encoding: .utf8)
            let applied = poll(timeout: 5) { ((try? agent.ctlJSON(["status"], as: AdminAPI.Status.self))?.configGeneration ?? 0) > before }
            let errors = (try? agent.ctlJSON(["status"], as: AdminAPI.Status.self))?.configErrors ?? []
            guard applied, errors.isEmpty else { throw TestLab.LabError("policy not applied: \(errors)") }
        }

        struct Summary: Decodable {
            var statuses: [String: Int]
            var workloads: [String: Int]
            var reasons: [String: Int]
            var elapsed: Double
            func count(_ status: Int) -> Int { statuses["\(status)"] ?? 0 }
        }

        func requests(_ url: String, count: Int, concurrency: Int = 4, headers: [String] = [], rate: Double? = nil,
                      extra: [String] = []) throws -> Summary {
            var arguments = ["python3", Paths.tool("httpclient.py"), "--url", url, "--count", "\(count)", "--concurrency", "\(concurrency)"] + extra
            for header in headers { arguments += ["--header", header] }
            if let rate { arguments += ["--rate", "\(rate)"] }
            let result = try a.run(in: "client", arguments, timeout: 300)
            guard result.ok else { throw TestLab.LabError("client failed: \(result.output)") }
            return try JSONDecoder().decode(Summary.self, from: Data(result.stdout.utf8))
        }

        func backendCount(_ port: Int) throws -> Int {
            let answer = try b.run(in: "ctl", ["curl", "-s", "http://127.0.0.1:\(port)/__count"]).stdout
            return (try? JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Int])?["requests"] ?? -1
        }
    }

    @Test func routingSplitCanaryUpgradeAndBadRequests() throws {
        let setup = try Setup("l7routing")
        defer { setup.mesh.tearDown() }
        let curl = try setup.a.run(in: "client", ["curl", "-s", "-w", "\\n%{http_code}", "http://198.19.0.11/hello?x=1", "-H", "x-test: yes"])
        #expect(curl.stdout.contains("\"workload\": \"v1\"") && curl.stdout.hasSuffix("200"), "\(curl.output)")
        #expect(curl.stdout.contains("\"traceparent\""), "a traceparent reaches the backend")

        try setup.apply("""
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: echo-split, namespace: demo}
        spec:
          parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
          rules:
          - matches: [{headers: [{name: x-canary, value: "true"}]}]
            backendRefs: [{name: echo-v2, port: 80}]
          - backendRefs: [{name: echo-v1, port: 80, weight: 90}, {name: echo-v2, port: 80, weight: 10}]
          - matches: [{path: {type: PathPrefix, value: /old}}]
            filters: [{type: RequestRedirect, requestRedirect: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}, statusCode: 301}}]
        """)
        let redirect = try setup.a.run(in: "client", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                                                      "http://198.19.0.10/old/page?id=7"])
        #expect(redirect.stdout == "301 http://198.19.0.10/new/page?id=7", "\(redirect.output)")
        let split = try setup.requests("http://198.19.0.10/split", count: 2000, concurrency: 8)
        #expect(split.count(200) == 2000, "\(split.statuses)")
        let share = Double(split.workloads["v1"] ?? 0) / 2000
        #expect(abs(share - 0.9) <= 0.03, "v1 share \(share) of \(split.workloads)")
        let canary = try setup.requests("http://198.19.0.10/canary", count: 50, headers: ["x-canary:true"])
        #expect(canary.workloads == ["v2": 50], "\(canary.workloads)")

        // Expect: 100-continue is answered by the agent, so curl sends its body
        // at once instead of after its timeout (3 s here).
        let upload = String(repeating: "x", count: 2000)
        let expect = try setup.a.run(in: "client", ["curl", "-s", "-w", "\\n%{http_code} %{time_total}", "--expect100-timeout", "3",
                                                    "-H", "Expect: 100-continue", "--data-binary", upload, "http://198.19.0.11/upload"])
        let expectStatus = expect.stdout.split(separator: "\n").last?.split(separator: " ") ?? []
        #expect(expectStatus.first == "200" && (Double(expectStatus.last ?? "") ?? 9) < 1.5, "\(expect.output)")
        #expect(expect.stdout.contains(upload), "the body reached the backend: \(expect.output)")

        // Bodies of unknown length pass as they arrive: events come before the
        // stream ends, and an endless one flows without the agent holding it.
        let events = try setup.a.run(in: "client", ["curl", "-s", "-N", "-w", "\\n%{http_code} %{time_starttransfer} %{time_total}",
                                                    "http://198.19.0.11/__events"])
        let timing = events.stdout.split(separator: "\n").last?.split(separator: " ").compactMap { Double($0) } ?? []
        #expect(events.stdout.contains("data: 0") && events.stdout.contains("data: 2"), "\(events.output)")
        #expect(timing.count == 3 && timing[0] == 200 && timing[1] < 0.5 && timing[2] >= 0.9, "\(events.output)")
        // A long body of known length streams too, and its upstream connection
        // carries the next requests afterwards.
        let download = try setup.a.run(in: "client", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                                                      "http://198.19.0.11/__bytes/\(8 << 20)"])
        #expect(download.stdout == "200 \(8 << 20)", "\(download.output)")
        #expect(try setup.requests("http://198.19.0.11/next", count: 20).count(200) == 20)
        let endless = try setup.a.run(in: "client", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", "-m", "3",
                                                     "http://198.19.0.11/__endless"])
        let received = endless.stdout.split(separator: " ")
        #expect(received.first == "200" && (Int(received.last ?? "") ?? 0) > 8 << 20, "\(endless.output)")
        // Uploads past what the agent holds stream too, with a length or chunked.
        let blob = setup.mesh.lab.logDirectory + "/upload.bin"
        defer { try? FileManager.default.removeItem(atPath: blob) }
        _ = try setup.a.run(in: "ctl", ["sh", "-c", "head -c \(96 << 20) /dev/urandom > \(blob)"])
        let digest = try setup.a.run(in: "ctl", ["sha256sum", blob]).stdout.prefix(64)
        for framing in [[], ["-H", "Transfer-Encoding: chunked"]] {
            let sent = try setup.a.run(in: "client", ["curl", "-s", "--data-binary", "@" + blob] + framing + ["http://198.19.0.11/__upload"],
                                       timeout: 120)
            #expect(sent.stdout.contains("\"bytes\": \(96 << 20)") && sent.stdout.contains(String(digest)), "\(framing): \(sent.output)")
        }
        let agent = setup.mesh.agents[0].process!
        #expect(agent.isRunning)
        let status = (try? String(contentsOfFile: "/proc/\(agent.pid)/status", encoding: .utf8)) ?? ""
        let rssKiB = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        #expect((rssKiB ?? 0) > 0 && rssKiB! < 256 << 10, "the agent holds a bounded window, not the stream: \(rssKiB ?? -1) KiB")

        // An Upgrade passes: 101 from the backend, then raw bytes both ways.
        let upgrade = try setup.a.run(in: "client", ["python3", "-c", """
            import socket
            s = socket.create_connection(("198.19.0.11", 80), timeout=5)
            s.sendall(b"GET /ws HTTP/1.1\\r\\nHost: echo\\r\\nConnection: Upgrade\\r\\nUpgrade: websocket\\r\\n\\r\\n")
            head = b""
            while b"\\r\\n\\r\\n" not in head:
                head += s.recv(4096)
            s.sendall(b"frame-through-the-mesh")
            data = b""
            while len(data) < 22:
                data += s.recv(4096)
            print(head.split(b"\\r\\n")[0].decode(), data.decode())
            """])
        #expect(upgrade.stdout.contains("101") && upgrade.stdout.contains("frame-through-the-mesh"), "\(upgrade.output)")

        // Malformed requests get 400 and the agent stays up.
        let bad = try setup.a.run(in: "client", ["python3", "-c", """
            import socket
            def ask(raw):
                s = socket.create_connection(("198.19.0.11", 80), timeout=5)
                s.sendall(raw)
                answer = s.recv(4096).split(b"\\r\\n")[0].decode()
                s.close()
                return answer
            print(ask(b"POST / HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nZZZ\\r\\nnot chunked\\r\\n"))
            print(ask(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nX-Big: " + b"a" * 200000 + b"\\r\\n\\r\\n"))
            """])
        let lines = bad.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines.allSatisfy { $0.contains(" 400") || $0.contains(" 431") }, "\(bad.output)")
        #expect(setup.mesh.agents[0].process!.isRunning)
        #expect(try setup.requests("http://198.19.0.11/after", count: 5).count(200) == 5)

        try peersThatLeaveAreLetGo(setup)
        try outOfRangeNumbersAreBadInput(setup)
        try spansReachACollector(setup)
    }

    /// A duration past what fits in 64-bit nanoseconds trapped the agent's
    /// parser (found by fuzzing the config directory); it is bad input.
    func outOfRangeNumbersAreBadInput(_ setup: Setup) throws {
        let file = setup.mesh.configDirectory + "/out-of-range.yaml"
        try """
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: huge, namespace: demo}
        spec:
          host: echo-v1
          trafficPolicy: {outlierDetection: {consecutive5xxErrors: 1, baseEjectionTime: 18446744073709551616ms}}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let agent = setup.mesh.agents[0]
        var errors: [String] = []
        let reported = poll(timeout: 5) {
            errors = (try? agent.ctlJSON(["status"], as: AdminAPI.Status.self))?.configErrors ?? []
            return errors.contains { $0.contains("out-of-range.yaml:") && $0.contains("baseEjectionTime") }
        }
        #expect(reported, "\(errors)")
        #expect(agent.process!.isRunning)
        #expect(try setup.requests("http://198.19.0.11/still-good", count: 5).count(200) == 5)
        try FileManager.default.removeItem(atPath: file)
        #expect(poll(timeout: 5) { (try? agent.ctlJSON(["status"], as: AdminAPI.Status.self))?.configErrors.isEmpty ?? false })
    }

    /// Ferry's sockets allow half-closure (the byte paths forward it), so every
    /// HTTP path must act on a peer's FIN itself, or the socket sits in
    /// CLOSE-WAIT for as long as the agent runs. Found by fuzzing the L7 port.
    func peersThatLeaveAreLetGo(_ setup: Setup) throws {
        let clients = try setup.a.run(in: "client", ["python3", "-c", """
            import socket
            def leave(raw):
                s = socket.create_connection(("198.19.0.11", 80), timeout=5)
                s.sendall(raw)
                s.shutdown(socket.SHUT_WR)
                try:
                    while s.recv(4096): pass
                except OSError: pass
                s.close()
            leave(b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n")  # an h2c client that goes away
            leave(b"PRI * HTTP/2")                           # half a preface
            # An upgrade whose client writes and shuts down at once: the server
            # must still see the end of input, answer, and close.
            s = socket.create_connection(("198.19.0.11", 80), timeout=5)
            s.sendall(b"GET /ws HTTP/1.1\\r\\nHost: echo\\r\\nConnection: Upgrade\\r\\nUpgrade: websocket\\r\\n\\r\\n")
            s.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk: break
                data += chunk
            print(data.split(b"\\r\\n")[0].decode(), "EOF")
            """])
        #expect(clients.stdout.contains("101 Switching Protocols EOF"), "\(clients.output)")
        // A backend that closes a keep-alive connection after answering: the
        // agent drops it from its pool, and the next request gets a fresh one.
        for path in ["/__idleclose", "/after-idle-close"] {
            let answer = try setup.a.run(in: "client", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://198.19.0.11" + path])
            #expect(answer.stdout == "200", "\(path): \(answer.output)")
            Thread.sleep(forTimeInterval: 0.3)
        }
        for node in [setup.a, setup.b] {
            var held = ""
            let released = poll(timeout: 5) {
                held = (try? node.run(in: "ctl", ["ss", "-tnpH", "state", "close-wait"]).stdout) ?? "?"
                return !held.contains("ferryd")
            }
            #expect(released, "ferryd sockets left in CLOSE-WAIT on \(node.name):\n\(held)")
        }
    }

    /// With `spec.tracing`, the client-side agent exports one span per request
    /// over OTLP/HTTP: the child of the caller's traceparent, and the parent
    /// of what the backend receives.
    func spansReachACollector(_ setup: Setup) throws {
        let collector = try setup.a.spawn("otlp", ["python3", Paths.tool("otlpcollector.py"), "--port", "4318"])
        try #require(collector.waitForOutput("listening"), "\(collector.stderr)")
        let meshFile = setup.mesh.configDirectory + "/mesh.yaml"
        let tracing = "\n  tracing: {otlpEndpoint: \"http://127.0.0.1:4318/v1/traces\", protocol: http/json, samplingPercent: 100}"
        let meshYAML = try String(contentsOfFile: meshFile, encoding: .utf8)
        try setup.apply(meshYAML.replacingOccurrences(of: "captureCIDRs: [198.18.0.0/15]", with: "captureCIDRs: [198.18.0.0/15]" + tracing),
                        file: "mesh.yaml")

        let callerTrace = "0af7651916cd43dd8448eb211c80319c", callerSpan = "b7ad6b7169203331"
        let curl = try setup.a.run(in: "client", ["curl", "-s", "http://198.19.0.11/traced", "-H", "traceparent: 00-\(callerTrace)-\(callerSpan)-01"])
        let echoed = try JSONSerialization.jsonObject(with: Data(curl.stdout.utf8)) as? [String: Any]
        let received = try #require((echoed?["headers"] as? [String: String])?["traceparent"].flatMap(TraceContext.init(traceparent:)),
                                    "\(curl.output)")
        #expect(received.traceID == callerTrace && received.spanID != callerSpan, "\(received)")

        struct ExportedSpan: Decodable {
            var traceId, spanId, parentSpanId, name: String
            var attributes: [String: String?]
            var resource: [String: String?]
        }
        var exported: ExportedSpan?
        _ = poll(timeout: 15, interval: 0.2) {
            exported = collector.stdout.split(separator: "\n").compactMap {
                try? JSONDecoder().decode(ExportedSpan.self, from: Data($0.utf8))
            }.first { $0.spanId == received.spanID }
            return exported != nil
        }
        let span = try #require(exported, "no span \(received.spanID) at the collector: \(collector.stdout)")
        #expect(span.traceId == callerTrace && span.parentSpanId == callerSpan)
        #expect(span.name == "GET echo-v1.demo.svc.cluster.local")
        #expect(span.attributes["url.path"] == "/traced" && span.attributes["ferry.destination.workload"] == "demo/echo-v1",
                "\(span.attributes)")
        #expect(span.resource["k8s.node.name"] == setup.a.name, "\(span.resource)")
    }

    @Test func retriesBudgetTimeoutsOutliersAndCircuitBreaking() throws {
        let setup = try Setup("l7resilience")
        defer { setup.mesh.tearDown() }
        try setup.apply("""
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: flaky, namespace: demo}
        spec:
          parentRefs: [{group: "", kind: Service, name: flaky, port: 80}]
          rules: [{backendRefs: [{name: flaky, port: 80}], retry: {codes: [503], attempts: 12, backoff: 1ms}}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: dead, namespace: demo}
        spec:
          parentRefs: [{group: "", kind: Service, name: dead, port: 80}]
          rules: [{backendRefs: [{name: dead, port: 80}], retry: {codes: [503], attempts: 5, backoff: 1ms}}]
        ---
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: slow, namespace: demo}
        spec:
          parentRefs: [{group: "", kind: Service, name: slow, port: 80}]
          rules:
          - backendRefs: [{name: slow, port: 80}]
            timeouts: {request: 3s, backendRequest: 200ms}
          # Timeouts run to the end of a streamed answer: events (1 s) get none.
          - matches: [{path: {type: PathPrefix, value: /__events}}]
            backendRefs: [{name: slow, port: 80}]
          - matches: [{path: {type: PathPrefix, value: /__endless}}]
            backendRefs: [{name: slow, port: 80}]
            timeouts: {request: 2s}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: pool, namespace: demo}
        spec:
          host: pool
          trafficPolicy:
            loadBalancer: {simple: ROUND_ROBIN}
            outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 3s, maxEjectionPercent: 100}
        ---
        apiVersion: networking.istio.io/v1
        kind: DestinationRule
        metadata: {name: slow, namespace: demo}
        spec:
          host: slow
          trafficPolicy:
            connectionPool: {tcp: {maxConnections: 1000}}
            # The port's own settings replace the rule's policy for port 80.
            portLevelSettings:
            - port: {number: 80}
              connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1, http2MaxRequests: 1}}
        """)
        // While the budget allows (here its reserve of 10 retries a second covers
        // the ~6 a second needed, one per request on average), retries turn a
        // 50%-failing backend into >= 99% success. With 12 retries a request
        // fails with p = 2^-13, so two failures in 100 requests (a false alarm)
        // happen about once in 10^4 runs; with 7 retries it was once in 17.
        let flaky = try setup.requests("http://198.19.0.13/r", count: 100, concurrency: 1, rate: 6)
        #expect(Double(flaky.count(200)) / 100 >= 0.99, "\(flaky.statuses)")
        // So do requests whose small body came a read after their headers (and
        // so was streamed): kept while it fits 64 KiB, it is sent again whole.
        let streamed = try setup.requests("http://198.19.0.13/r", count: 40, concurrency: 1, rate: 6,
                                          extra: ["--chunked-body", "hello", "--pause-ms", "30"])
        #expect(Double(streamed.count(200)) / 40 >= 0.95, "\(streamed.statuses)")
        // Against a backend that always fails, the budget stops retries: far fewer
        // than 5 retries per request reach it.
        let before = try setup.backendCount(9003)
        let dead = try setup.requests("http://198.19.0.14/r", count: 300, concurrency: 4)
        let attempts = try setup.backendCount(9003) - before
        #expect(dead.count(503) == 300)
        #expect(attempts < 300 * 2, "budget: \(attempts) attempts for 300 requests (5 retries each would be 1800)")
        #expect(attempts > 300, "some retries were made: \(attempts)")

        // A per-try timeout of 200 ms fires long before the backend's 1 s.
        let started = Date()
        let slow = try setup.a.run(in: "client", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://198.19.0.15/t"])
        #expect(slow.stdout == "504", "\(slow.output)")
        #expect(Date().timeIntervalSince(started) < 0.9)

        // Outlier detection ejects the failing endpoint, then readmits it.
        let ejecting = try setup.requests("http://198.19.0.16/o", count: 40, concurrency: 1)
        #expect(ejecting.count(503) <= 3, "ejected after 2 consecutive 5xx: \(ejecting.statuses)")
        usleep(3_500_000)
        let readmitted = try setup.requests("http://198.19.0.16/o", count: 6, concurrency: 1)
        #expect(readmitted.count(503) >= 1, "readmitted after baseEjectionTime: \(readmitted.statuses)")

        // Circuit breaking: one request at a time to the slow backend; the rest get 503 UO.
        let breaker = try setup.requests("http://198.19.0.15/cb", count: 12, concurrency: 12)
        #expect((breaker.reasons.first { $0.key.contains("circuit breaker") }?.value ?? 0) >= 5, "\(breaker.statuses) \(breaker.reasons)")
        // maxConnections counts open connections: one that closed frees its place.
        // (First the slow backend finishes the request the per-try timeout left behind.)
        usleep(1_500_000)
        for _ in 0..<4 {
            let closing = try setup.a.run(in: "client", ["curl", "-s", "-w", "%{http_code}", "http://198.19.0.15/__close"])
            #expect(closing.stdout.hasSuffix("200"), "a closed connection still counted: \(closing.output)")
        }
        // A streamed answer is a request in flight until its body ends (3 events, 1 s).
        let stream = try setup.a.spawn("events", in: "client", ["curl", "-s", "-N", "http://198.19.0.15/__events"])
        #expect(stream.waitForOutput("data: 0"))
        let during = try setup.a.run(in: "client", ["curl", "-s", "-w", "%{http_code}", "http://198.19.0.15/__count"])
        #expect(during.stdout.contains("too many requests") && during.stdout.hasSuffix("503"), "\(during.output)")
        #expect(stream.waitForExit(timeout: 5) == 0 && stream.stdout.contains("data: 2"), "\(stream.stdout)")
        let after = try setup.a.run(in: "client", ["curl", "-s", "-w", "%{http_code}", "http://198.19.0.15/__count"])
        #expect(after.stdout.hasSuffix("200"), "the slot is free once the stream ended: \(after.output)")
        // The request timeout cuts an endless answer off mid-body.
        let cut = try setup.a.run(in: "client", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}",
                                                 "-m", "8", "http://198.19.0.15/__endless"], timeout: 20)
        let cutFigures = cut.stdout.split(separator: " ").compactMap { Double($0) }
        #expect(!cut.ok && cutFigures.count == 3 && cutFigures[0] == 200 && cutFigures[1] > 0, "\(cut.output)")
        #expect(cutFigures.count == 3 && cutFigures[2] >= 1.8 && cutFigures[2] < 5, "ended by the 2 s timeout: \(cut.output)")
        let cutSeries = try setup.a.run(in: "ctl", ["curl", "-s", "localhost:15020/metrics"]).stdout.split(separator: "\n")
            .filter { $0.hasPrefix("istio_requests_total{") && $0.contains("response_flags=\"UT\"") && $0.contains("response_code=\"200\"") }
        #expect(!cutSeries.isEmpty, "the cut answer is reported as a timeout (UT)")
        let metrics = try setup.a.run(in: "ctl", ["curl", "-s", "localhost:15020/metrics"]).stdout
        #expect(metrics.contains("response_flags=\"UO\""))
        #expect(metrics.contains("response_flags=\"UT\""))
    }

    @Test func rateLimitAndFaultInjection() throws {
        let setup = try Setup("l7limits")
        defer { setup.mesh.tearDown() }
        try setup.apply("""
        apiVersion: ferry.dev/v1alpha1
        kind: RateLimit
        metadata: {name: v2, namespace: demo}
        spec: {targetRef: {kind: Service, name: echo-v2}, requestsPerSecond: 20, burst: 5}
        ---
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: v1-faults, namespace: demo}
        spec:
          hosts: [echo-v1]
          http:
          - fault:
              abort: {httpStatus: 418, percentage: {value: 30}}
              delay: {fixedDelay: 50ms, percentage: {value: 20}}
            route: [{destination: {host: echo-v1}}]
        """)
        // 100 requests a second for 5 s against 20/s with a burst of 5.
        let limited = try setup.requests("http://198.19.0.12/rl", count: 500, concurrency: 8, rate: 100)
        let allowed = Double(limited.count(200))
        let expected = 20 * limited.elapsed + 5
        #expect(abs(allowed - expected) / expected <= 0.10, "\(allowed) allowed over \(limited.elapsed) s; expected \(expected)")
        #expect(limited.count(429) > 0 && limited.count(200) + limited.count(429) == 500, "\(limited.statuses)")

        let faults = try setup.requests("http://198.19.0.11/f", count: 2000, concurrency: 16)
        let aborted = Double(faults.count(418)) / 2000
        #expect(abs(aborted - 0.30) <= 0.05, "abort share \(aborted): \(faults.statuses)")
        let log = setup.mesh.agents[0].process!.stdout.split(separator: "\n").filter { $0.contains("\"path\":\"/f\"") }
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(log.count == 2000)
        // Envoy's order: the delay, then the abort. A request both delayed and
        // aborted is reported FI, so DI is the delayed share of those not
        // aborted: 20 % of 70 %, each of them at least the 50 ms late.
        let delayed = log.filter { $0["response_flags"] as? String == "DI" }
        let delayedShare = Double(delayed.count) / Double(max(log.count, 1))
        #expect(abs(delayedShare - 0.20 * 0.70) <= 0.04, "delay share \(delayedShare) of \(log.count)")
        let early = delayed.filter { ($0["duration_ms"] as? Double ?? 0) < 50 }
        #expect(early.isEmpty, "\(early.count) delayed requests took under 50 ms: \(early.prefix(3))")
    }

    @Test func h2loadAndGRPCThroughTheMesh() throws {
        let setup = try Setup("l7h2")
        defer { setup.mesh.tearDown() }
        let h2load = try setup.a.run(in: "client", ["h2load", "-n", "400", "-c", "4", "-m", "8", "http://198.19.0.20/index.html"], timeout: 120)
        #expect(h2load.stdout.contains("400 succeeded"), "\(h2load.output)")
        let prior = try setup.a.run(in: "client", ["curl", "-s", "--http2-prior-knowledge", "http://198.19.0.20/index.html"])
        #expect(prior.stdout.contains("hello over h2c"), "\(prior.output)")
        let grpc = try setup.a.run(in: "client", ["python3", Paths.tool("grpcecho.py"), "call", "--target", "198.19.0.21:50051",
                                                  "--message", "unary through ferry"], timeout: 60)
        #expect(grpc.stdout.contains("grpc: unary through ferry"), "\(grpc.output)")
        // Streaming calls: the request body goes up as it comes.
        let collect = try setup.a.run(in: "client", ["python3", Paths.tool("grpcecho.py"), "collect", "--target", "198.19.0.21:50051",
                                                     "--message", "a,b,c"], timeout: 60)
        #expect(collect.stdout.contains("grpc: a+b+c"), "\(collect.output)")
        let chat = try setup.a.run(in: "client", ["python3", Paths.tool("grpcecho.py"), "chat", "--target", "198.19.0.21:50051",
                                                  "--message", "one,two,three"], timeout: 60)
        #expect(chat.stdout == "grpc: one\ngrpc: two\ngrpc: three\n", "each answer before the next message: \(chat.output)")
        // The agent's own refusals reach a gRPC client as gRPC statuses with the reason.
        try setup.apply("""
        apiVersion: v1
        kind: Service
        metadata: {name: grpc-nowhere, namespace: demo}
        spec: {clusterIP: 198.19.0.22, selector: {app: nowhere}, ports: [{name: api, appProtocol: grpc, port: 50051}]}
        """)
        let refused = try setup.a.run(in: "client", ["python3", Paths.tool("grpcecho.py"), "call", "--target", "198.19.0.22:50051",
                                                     "--message", "anyone?"], timeout: 60)
        #expect(refused.stdout.contains("RPC failed: StatusCode.UNAVAILABLE no endpoint for"), "\(refused.output)")
        let metrics = try setup.a.run(in: "ctl", ["curl", "-s", "localhost:15020/metrics"]).stdout
        #expect(metrics.contains("request_protocol=\"grpc\""))
        let grpcSeries = metrics.split(separator: "\n").filter { $0.hasPrefix("istio_requests_total{") && $0.contains("request_protocol=\"grpc\"") }
        #expect(grpcSeries.contains { $0.contains("grpc_response_status=\"0\"") }, "\(grpcSeries)")
        #expect(grpcSeries.contains { $0.contains("grpc_response_status=\"14\"") && $0.contains("response_code=\"200\"") }, "\(grpcSeries)")
        // Messages each way over the successful calls: unary 1/1, collect 3/1, chat 3/3.
        func messages(_ name: String) -> Double {
            metrics.split(separator: "\n").filter { $0.hasPrefix(name + "{") && $0.contains("grpc_response_status=\"0\"") }
                .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
        }
        #expect(messages("istio_request_messages_total") == 7 && messages("istio_response_messages_total") == 5,
                "\(metrics.split(separator: "\n").filter { $0.contains("_messages_total{") })")
        // Invalid HTTP/2 frames: a GOAWAY, and the agent carries on.
        let garbage = try setup.a.run(in: "client", ["python3", "-c", """
            import socket
            s = socket.create_connection(("198.19.0.20", 80), timeout=5)
            s.sendall(b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n" + b"\\x00\\x00\\x04\\x00\\x00\\x00\\x00\\x00\\x00abcd")
            data = b""
            while True:
                try:
                    chunk = s.recv(4096)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
            # Walk the frames: type 0x7 is GOAWAY.
            kinds, i = [], 0
            while i + 9 <= len(data):
                length = int.from_bytes(data[i:i + 3], "big")
                kinds.append(data[i + 3])
                i += 9 + length
            print("goaway" if 7 in kinds else kinds)
            """])
        #expect(garbage.stdout.contains("goaway"), "\(garbage.output)")
        #expect(setup.mesh.agents[0].process!.isRunning)
    }
}

extension L7Tests {
    /// HTTPRoute RequestMirror through the agents: every request is answered
    /// by its backend and a copy goes to the mirror, whose answer is dropped.
    @Test func requestMirrorSendsACopyAndKeepsTheAnswer() throws {
        let setup = try Setup("l7mirror")
        defer { setup.mesh.tearDown() }
        try setup.apply("""
        apiVersion: gateway.networking.k8s.io/v1
        kind: HTTPRoute
        metadata: {name: mirrored, namespace: demo}
        spec:
          parentRefs: [{group: "", kind: Service, name: echo-v1, port: 80}]
          rules:
          - backendRefs: [{name: echo-v1, port: 80}]
            filters: [{type: RequestMirror, requestMirror: {backendRef: {name: echo-v2, port: 80}}}]
        """)
        let (v1Before, v2Before) = (try setup.backendCount(9000), try setup.backendCount(9001))
        let summary = try setup.requests("http://198.19.0.11/mirrored", count: 50, concurrency: 4)
        #expect(summary.count(200) == 50, "\(summary.statuses)")
        #expect(summary.workloads == ["v1": 50], "answers come from the route's backend only: \(summary.workloads)")
        #expect(try setup.backendCount(9000) - v1Before == 50)
        // Copies are sent without waiting for them: give the last ones a moment.
        #expect(poll(timeout: 5) { ((try? setup.backendCount(9001)) ?? 0) - v2Before == 50 },
                "the mirror got one copy per request: \((try? setup.backendCount(9001)) ?? -1) - \(v2Before)")
    }
}
