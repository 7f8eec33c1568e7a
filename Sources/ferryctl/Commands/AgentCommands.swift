import ArgumentParser
import FerryBPF
import FerryProxy
import Foundation

/// `ferryctl status`: is the agent up, and is it healthy?
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Agent up, version, programs attached, enrolled workloads, certificate health."
    )

    @OptionGroup var output: OutputOptions
    @OptionGroup var agent: AgentOptions
    @OptionGroup var datapath: DatapathOptions

    func run() async throws {
        let status: AdminAPI.Status
        do {
            status = try await AdminClient(agent).get("/status")
        } catch {
            let layout = datapath.layout()
            let attached = FerryDatapath.attachedPrograms(layout)
            if output.json {
                output.printJSON(["agent": "down", "error": "\(error)", "programsAttached": attached.description])
            } else {
                print("agent:    DOWN (\(error))")
                print("programs: \(attached.filter(\.value).count)/\(attached.count) attached (pinned under \(layout.pinDirectory))")
            }
            throw ExitCode(1)
        }
        if output.json { return output.printJSON(status) }
        print("agent:        up on node \(status.node), version \(status.version), uptime \(Format.age(status.uptimeSeconds))")
        let waiting = status.waitingFor ?? []
        print("ready:        \(waiting.isEmpty ? "yes" : "no, waiting for \(waiting.joined(separator: ", "))")")
        for notice in status.notices ?? [] { print("  notice: \(notice)") }
        let attached = status.programsAttached.filter(\.value).count
        print("programs:     \(attached)/\(status.programsAttached.count) attached")
        print("config:       generation \(status.configGeneration)\(status.configErrors.isEmpty ? ", no errors" : "")")
        for error in status.configErrors { print("  error: \(error)") }
        for problem in status.datapathProblems { print("  datapath: \(problem)") }
        print("enrolled:     \(status.enrolledWorkloads.isEmpty ? "none" : status.enrolledWorkloads.joined(separator: ", "))")
        print("connections:  \(status.liveConnections) live, \(status.connectionsOpened) opened, \(status.connectionsClosed) closed")
        let expiring = status.certificates.filter { $0.state != "valid" }
        print("certificates: \(status.certificates.count) (\(expiring.isEmpty ? "all valid" : "\(expiring.count) not valid"))")
        let counters = status.kernelCounters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        print("kernel:       \(counters.joined(separator: " "))")
    }
}


struct WorkloadsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workloads", abstract: "Workloads of the mesh and whether they are enrolled here.")

    @OptionGroup var output: OutputOptions
    @OptionGroup var agent: AgentOptions

    func run() async throws {
        let workloads: [AdminAPI.WorkloadInfo]
        do { workloads = try await AdminClient(agent).get("/workloads") } catch { fail("\(error)") }
        if output.json { return output.printJSON(workloads) }
        var table = Table("NAMESPACE", "NAME", "NODE", "ADDRESSES", "IDENTITY", "CGROUP", "ENROLLED")
        for w in workloads {
            table.add(w.namespace, w.name, w.node ?? "-", w.addresses.joined(separator: ","), w.identity,
                      w.cgroup ?? "-", w.enrolled ? "yes" : "no")
        }
        table.print()
    }
}

struct ServicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "services", abstract: "Services, their VIPs, ports and endpoints.")

    @OptionGroup var output: OutputOptions
    @OptionGroup var agent: AgentOptions

    func run() async throws {
        let services: [AdminAPI.ServiceInfo]
        do { services = try await AdminClient(agent).get("/services") } catch { fail("\(error)") }
        if output.json { return output.printJSON(services) }
        var table = Table("SERVICE", "VIPS", "PORTS", "ENDPOINTS")
        for s in services {
            table.add(s.key, s.vips.joined(separator: ","), s.ports.joined(separator: ","),
                      s.endpoints.isEmpty ? "-" : s.endpoints.joined(separator: ","))
        }
        table.print()
    }
}

struct ConfigDumpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config_dump", abstract: "The agent's whole configuration state as JSON.")

    @OptionGroup var output: OutputOptions
    @OptionGroup var agent: AgentOptions

    func run() async throws {
        do { print(try await AdminClient(agent).raw("/config_dump")) } catch { fail("\(error)") }
    }
}

struct LoggingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logging", abstract: "Get or set the agent's log level at runtime.")

    @Argument(help: "New level (trace, debug, info, notice, warning, error, critical); omit to print the current one.")
    var level: String?

    @OptionGroup var output: OutputOptions
    @OptionGroup var agent: AgentOptions

    func run() async throws {
        let result: AdminAPI.LogLevel
        do {
            if let level {
                let encoded = level.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? level
                result = try await AdminClient(agent).post("/logging?level=\(encoded)")
            } else {
                result = try await AdminClient(agent).get("/logging")
            }
        } catch { fail("\(error)") }
        if output.json { return output.printJSON(result) }
        print("log level: \(result.level)")
    }
}

struct CertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "certs", abstract: "Workload certificates held by the agent: identity, serial, validity, state.")

    @OptionGroup var output: OutputOptions
    @OptionGroup var agent: AgentOptions

    func run() async throws {
        let certificates: [AdminAPI.Certificate]
        do { certificates = try await AdminClient(agent).get("/certificates") } catch { fail("\(error)") }
        if output.json { return output.printJSON(certificates) }
        let formatter = ISO8601DateFormatter()
        var table = Table("IDENTITY", "SERIAL", "NOT BEFORE", "NOT AFTER", "STATE", "ROTATIONS")
        for c in certificates {
            table.add(c.identity, String(c.serial.prefix(16)), formatter.string(from: c.notBefore),
                      formatter.string(from: c.notAfter), c.state, "\(c.rotations)")
        }
        table.print()
    }
}
