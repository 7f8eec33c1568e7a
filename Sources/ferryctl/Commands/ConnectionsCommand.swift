import ArgumentParser
import FerryBPF
import FerryProxy
import FerryTelemetry
import Foundation

/// `ferryctl connections`: the kernel's per-connection stats joined with the
/// tunnel's view. Without the agent, the kernel map alone.
struct ConnectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connections", abstract: "Live connections: workloads, identities, bytes, srtt, retransmits, age."
    )

    @OptionGroup var output: OutputOptions
    @OptionGroup var datapath: DatapathOptions
    @OptionGroup var agent: AgentOptions

    @Option(help: "Only connections of this workload (namespace/name, name, or index).")
    var workload: String?

    @Option(help: "Only outbound or inbound connections.")
    var direction: String?

    /// One row, whichever source it came from.
    struct Row: Codable {
        var direction: String
        var sourceWorkload: String
        var destinationWorkload: String
        var sourceIdentity: String?
        var destinationIdentity: String?
        var source: String
        var destination: String
        var route: String
        var bytesSent: UInt64
        var bytesReceived: UInt64
        var srttMicroseconds: UInt32?
        var retransmits: UInt32?
        var state: String?
        var ageSeconds: Double
    }

    func run() async throws {
        if let direction, !["outbound", "inbound"].contains(direction) {
            fail("--direction must be outbound or inbound, not '\(direction)'")
        }
        var rows: [Row]
        var note: String?
        do {
            let joined: [AdminAPI.Connection] = try await AdminClient(agent).get("/connections")
            rows = joined.map(Self.row)
        } catch let error as AdminError {
            guard case .agentDown = error else { fail("\(error)") }
            note = "\(error); showing the kernel map only"
            let pinned = datapath.openPinned()
            let names = WorkloadNames(pinned)
            rows = KernelConnection.all(from: pinned).filter { $0.kind == .captured }.map { Self.row($0, names: names) }
        }
        rows = rows.filter { row in
            (direction == nil || row.direction == direction)
                && (workload == nil || [row.sourceWorkload, row.destinationWorkload].contains { Self.matches($0, workload!) })
        }
        if output.json { return output.printJSON(rows) }
        if let note { FileHandle.standardError.write(Data("ferryctl: \(note)\n".utf8)) }
        var table = Table("DIRECTION", "SOURCE", "DESTINATION", "SRC IDENTITY", "DST IDENTITY", "ORIGINAL DST",
                          "SENT", "RECEIVED", "SRTT", "RETRANS", "STATE", "AGE")
        for row in rows {
            table.add(row.direction, row.sourceWorkload, row.destinationWorkload,
                      row.sourceIdentity ?? "-", row.destinationIdentity ?? "-", row.destination,
                      Format.bytes(row.bytesSent), Format.bytes(row.bytesReceived),
                      row.srttMicroseconds.map(Format.micros) ?? "-", row.retransmits.map { "\($0)" } ?? "-",
                      row.state ?? "-", Format.age(row.ageSeconds))
        }
        table.print()
    }

    static func matches(_ value: String, _ filter: String) -> Bool {
        value == filter || value.hasSuffix("/" + filter)
    }

    static func row(_ connection: AdminAPI.Connection) -> Row {
        let tunnel = connection.tunnel
        // The kernel's view of the socket that crossed the network, when there is one.
        let socket = connection.upstreamSocket ?? connection.workloadSocket
        return Row(
            direction: tunnel.direction.rawValue,
            sourceWorkload: tunnel.sourceWorkload ?? "-", destinationWorkload: tunnel.destinationWorkload ?? "-",
            sourceIdentity: tunnel.sourceIdentity, destinationIdentity: tunnel.destinationIdentity,
            source: tunnel.client ?? "-", destination: tunnel.destination, route: tunnel.route.rawValue,
            bytesSent: tunnel.bytesSent, bytesReceived: tunnel.bytesReceived,
            srttMicroseconds: socket?.srttMicroseconds, retransmits: socket?.retransmits, state: socket?.state,
            ageSeconds: connection.ageSeconds
        )
    }

    /// A row from the kernel alone: the workload by the name ferryd pinned
    /// for its index ("#index" when there is none, as in an older pin set).
    static func row(_ kernel: KernelConnection, names: WorkloadNames) -> Row {
        Row(
            direction: "outbound", sourceWorkload: kernel.workloadIndex.map { names.name(of: $0) } ?? "-", destinationWorkload: "-",
            sourceIdentity: nil, destinationIdentity: nil, source: "\(kernel.local)",
            destination: kernel.originalDestination.map { "\($0)" } ?? "\(kernel.remote)", route: "kernel",
            bytesSent: kernel.bytesAcked, bytesReceived: kernel.bytesReceived,
            srttMicroseconds: kernel.srttMicroseconds, retransmits: kernel.retransmits, state: kernel.state,
            ageSeconds: kernel.ageSeconds
        )
    }
}

/// The workload names ferryd pins (`ferry_names`), read once.
struct WorkloadNames {
    private let byIndex: [UInt32: String]

    init(_ datapath: FerryDatapath) {
        byIndex = Dictionary((datapath.workloadNames?.entries() ?? []).map { ($0.key, $0.value.text) },
                             uniquingKeysWith: { a, _ in a })
    }

    func name(of index: UInt32) -> String { byIndex[index] ?? "#\(index)" }
}
