import ArgumentParser
import FerryProxy
import Foundation

/// `ferryctl top`: the busiest workload pairs, refreshed live. Rates come from
/// two readings of the agent's connection table an interval apart.
struct TopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top", abstract: "Live view of the busiest workload pairs: throughput, req/s, RTT."
    )

    @Flag(help: "Print one table (after one interval) and exit.")
    var once = false

    @Option(help: "Seconds between readings.")
    var interval: Double = 1

    @Option(help: "Rows to show.")
    var limit: Int = 20

    @OptionGroup var output: OutputOptions
    @OptionGroup var agent: AgentOptions

    struct Pair: Codable {
        var source: String
        var destination: String
        var connections: Int
        var bytesPerSecond: Double
        var requestsPerSecond: Double
        var srttMicroseconds: UInt32?
    }

    func run() async throws {
        guard interval > 0 else { fail("--interval must be positive") }
        let client = AdminClient(agent)
        var previous: [UInt64: AdminAPI.Connection]
        do { previous = Self.byID(try await client.get("/connections")) } catch { fail("\(error)") }
        var previousAt = Date()
        repeat {
            try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            let current: [UInt64: AdminAPI.Connection]
            do { current = Self.byID(try await client.get("/connections")) } catch { fail("\(error)") }
            let now = Date()
            let pairs = Self.pairs(previous: previous, current: current, seconds: now.timeIntervalSince(previousAt))
            show(Array(pairs.prefix(limit)))
            previous = current
            previousAt = now
        } while !once
    }

    static func byID(_ connections: [AdminAPI.Connection]) -> [UInt64: AdminAPI.Connection] {
        Dictionary(connections.map { ($0.tunnel.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Bytes moved per pair between two readings; a connection that appeared in
    /// between counts from zero.
    static func pairs(previous: [UInt64: AdminAPI.Connection], current: [UInt64: AdminAPI.Connection], seconds: Double) -> [Pair] {
        var pairs: [String: Pair] = [:]
        var rtts: [String: [UInt32]] = [:]
        for (id, connection) in current where connection.tunnel.direction == .outbound {
            let tunnel = connection.tunnel
            let key = "\(tunnel.sourceWorkload ?? "-") → \(tunnel.destinationWorkload ?? tunnel.destination)"
            let before = previous[id]?.tunnel
            let moved = (tunnel.bytesSent + tunnel.bytesReceived) &- ((before?.bytesSent ?? 0) + (before?.bytesReceived ?? 0))
            var pair = pairs[key] ?? Pair(source: tunnel.sourceWorkload ?? "-", destination: tunnel.destinationWorkload ?? tunnel.destination,
                                          connections: 0, bytesPerSecond: 0, requestsPerSecond: 0, srttMicroseconds: nil)
            pair.connections += 1
            pair.bytesPerSecond += Double(moved) / max(seconds, 0.001)
            let requests = tunnel.requests &- (previous[id]?.tunnel.requests ?? 0)
            pair.requestsPerSecond += Double(requests) / max(seconds, 0.001)
            pairs[key] = pair
            if let srtt = (connection.upstreamSocket ?? connection.workloadSocket)?.srttMicroseconds, srtt > 0 {
                rtts[key, default: []].append(srtt)
            }
        }
        for (key, samples) in rtts { pairs[key]?.srttMicroseconds = samples.reduce(0, +) / UInt32(samples.count) }
        return pairs.values.sorted { $0.bytesPerSecond > $1.bytesPerSecond }
    }

    func show(_ pairs: [Pair]) {
        if output.json { return output.printJSON(pairs) }
        if !once { print("\u{1B}[2J\u{1B}[H", terminator: "") }
        print("ferryctl top — every \(interval) s, \(Date().formatted(date: .omitted, time: .standard))\n")
        var table = Table("SOURCE", "DESTINATION", "CONNS", "THROUGHPUT", "REQ/S", "SRTT")
        for pair in pairs {
            table.add(pair.source, pair.destination, "\(pair.connections)", Format.rate(pair.bytesPerSecond),
                      String(format: "%.1f", pair.requestsPerSecond), pair.srttMicroseconds.map(Format.micros) ?? "-")
        }
        table.print()
    }
}

extension Format {
    /// Bits per second, as iperf3 prints them.
    static func rate(_ bytesPerSecond: Double) -> String {
        let bits = bytesPerSecond * 8
        if bits >= 1e9 { return String(format: "%.2f Gbit/s", bits / 1e9) }
        if bits >= 1e6 { return String(format: "%.2f Mbit/s", bits / 1e6) }
        if bits >= 1e3 { return String(format: "%.1f Kbit/s", bits / 1e3) }
        return String(format: "%.0f bit/s", bits)
    }
}
