import ArgumentParser
import CLibBPF
import FerryBPF
import FerryMesh
import FerryTelemetry
import Foundation

/// `ferryctl maps` and `ferryctl maps dump NAME`: the pinned maps, straight from the kernel.
struct MapsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maps", abstract: "List Ferry's pinned BPF maps: type and entries used / max.",
        subcommands: [MapsList.self, MapsDump.self], defaultSubcommand: MapsList.self
    )
}

struct MapsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List pinned maps.")
    /// Pin directories that hold links, not maps.
    static let directories: Set<String> = ["links", "pods"]

    @OptionGroup var output: OutputOptions
    @OptionGroup var datapath: DatapathOptions

    struct Row: Codable {
        var name: String
        var type: String
        var entries: Int
        var maxEntries: UInt32
        var keySize: UInt32
        var valueSize: UInt32
    }

    func run() async throws {
        let layout = datapath.layout()
        let names = BPFFS.list(layout.pinDirectory).filter { !Self.directories.contains($0) }
        guard !names.isEmpty else {
            fail("no Ferry maps pinned under \(layout.pinDirectory): the datapath is not loaded (start ferryd or run `ferryctl load`)")
        }
        var rows: [Row] = []
        for name in names {
            let fd = bpf_obj_get(layout.mapPath(name))
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard let info = try? BPFMapRef.info(fd: fd, name: name) else { continue }
            let entries = info.type.contains("array") && !info.type.contains("of_maps")
                ? Int(info.maxEntries) : BPFMapRef.rawKeys(fd: fd, keySize: Int(info.keySize)).count
            rows.append(Row(name: name, type: info.type, entries: entries, maxEntries: info.maxEntries,
                            keySize: info.keySize, valueSize: info.valueSize))
        }
        if output.json { return output.printJSON(rows) }
        var table = Table("NAME", "TYPE", "ENTRIES", "MAX", "KEY", "VALUE")
        for row in rows {
            table.add(row.name, row.type, "\(row.entries)", "\(row.maxEntries)", "\(row.keySize)B", "\(row.valueSize)B")
        }
        table.print()
    }
}

struct MapsDump: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dump", abstract: "Print every entry of one pinned map, decoded when Ferry knows its type.")

    @Argument(help: "Map name, e.g. ferry_conns (see `ferryctl maps`).")
    var name: String

    @OptionGroup var output: OutputOptions
    @OptionGroup var datapath: DatapathOptions

    func run() async throws {
        let layout = datapath.layout()
        let path = layout.mapPath(name)
        guard BPFFS.exists(path), !name.contains("/") else {
            let known = BPFFS.list(layout.pinDirectory).filter { !MapsList.directories.contains($0) }.joined(separator: ", ")
            fail("no pinned map '\(name)' under \(layout.pinDirectory)\(known.isEmpty ? "" : " (have: \(known))")")
        }
        let entries: [[String: String]]
        do {
            entries = try MapDecoder.decode(name: name, path: path)
        } catch {
            fail("\(error)")
        }
        if output.json { return output.printJSON(entries) }
        guard let first = entries.first else { return print("(empty)") }
        let columns = first.keys.sorted()
        var table = Table(headers: columns.map { $0.uppercased() })
        for entry in entries { table.add(row: columns.map { entry[$0] ?? "" }) }
        table.print()
    }
}

extension Table {
    init(headers: [String]) {
        self.headers = headers
    }
}

/// Turns map entries into readable fields, using the ABI structs for Ferry's maps
/// and hex for anything else.
enum MapDecoder {
    static func decode(name: String, path: String) throws -> [[String: String]] {
        switch name {
        case "ferry_enrolled":
            let map = try BPFMap<UInt64, ferry_workload>(pinned: path)
            return map.entries().map { ["cgroup_id": "\($0.key)", "workload_index": "\($0.value.index)",
                                        "fail_closed": "\($0.value.flags & FERRY_WORKLOAD_FAIL_CLOSED != 0)"] }
        case "ferry_capture":
            let map = try BPFMap<ferry_cidr_key, UInt32>(pinned: path)
            return map.entries().map { entry in
                let address = IPAddress(words: entry.key.addr)
                let prefix = address.isIPv4 && entry.key.prefixlen >= 96 ? entry.key.prefixlen - 96 : entry.key.prefixlen
                return ["cidr": "\(address)/\(prefix)", "action": entry.value == 1 ? "capture" : "exclude"]
            }
        case "ferry_inbound":
            let map = try BPFMap<ferry_inbound_key, ferry_inbound_value>(pinned: path)
            return map.entries().map { entry in
                ["address": "\(IPEndpoint(ip: IPAddress(words: entry.key.addr), port: Int(entry.key.port)))",
                 "workload_index": "\(entry.value.workload)",
                 "strict": "\(entry.value.flags & UInt16(FERRY_INBOUND_STRICT) != 0)",
                 "listener": entry.value.listener == 0 ? "node" : "pod pair \(entry.value.listener)"]
            }
        case "ferry_strict":
            let map = try BPFMap<ferry_inbound_key, UInt8>(pinned: path)
            return map.entries().map { entry in
                ["address": "\(IPAddress(words: entry.key.addr))", "port": entry.key.port == 0 ? "*" : "\(entry.key.port)",
                 "mtls_only": "\(entry.value != 0)"]
            }
        case "ferry_noports":
            let map = try BPFMap<UInt16, UInt8>(pinned: path)
            return map.entries().map { ["port": "\($0.key)"] }
        case "ferry_tuples":
            let map = try BPFMap<ferry_tuple, ferry_origin>(pinned: path)
            return map.entries().map { entry in
                [
                    "netns_cookie": "\(entry.key.netns_cookie)",
                    "source": "\(IPEndpoint(ip: IPAddress(words: entry.key.src_addr), port: Int(entry.key.src_port)))",
                    "redirected_to": "\(IPEndpoint(ip: IPAddress(words: entry.key.dst_addr), port: Int(entry.key.dst_port)))",
                    "original_destination": "\(IPEndpoint(ip: IPAddress(words: entry.value.dst_addr), port: Int(entry.value.dst_port)))",
                    "workload_index": "\(entry.value.workload)",
                    "cgroup_id": "\(entry.value.cgroup_id)",
                ]
            }
        case "ferry_pending":
            let map = try BPFMap<UInt64, ferry_origin>(pinned: path)
            return map.entries().map { entry in
                ["cookie": "\(entry.key)",
                 "original_destination": "\(IPEndpoint(ip: IPAddress(words: entry.value.dst_addr), port: Int(entry.value.dst_port)))",
                 "workload_index": "\(entry.value.workload)"]
            }
        case "ferry_conns":
            let map = try BPFMap<UInt64, ferry_conn_stats>(pinned: path)
            let now = monotonicNanoseconds()
            return map.entries().map { entry in
                let c = KernelConnection(cookie: entry.key, stats: entry.value, now: now)
                return ["cookie": "\(c.cookie)", "kind": c.kind.rawValue, "local": "\(c.local)", "remote": "\(c.remote)",
                        "original_destination": c.originalDestination.map { "\($0)" } ?? "-",
                        "bytes_acked": "\(c.bytesAcked)", "bytes_received": "\(c.bytesReceived)",
                        "srtt_us": "\(c.srttMicroseconds)", "retransmits": "\(c.retransmits)", "state": c.state]
            }
        case "ferry_counters":
            let counters = try BPFCounterArray(pinned: path)
            return KernelCounters.read(counters).sorted { $0.key < $1.key }.map { ["counter": $0.key, "value": "\($0.value)"] }
        default:
            let fd = bpf_obj_get(path)
            guard fd >= 0 else { throw BPFError.last("open pinned map \(path)") }
            defer { close(fd) }
            let info = try BPFMapRef.info(fd: fd, name: name)
            return BPFMapRef.rawEntries(fd: fd, info: info).map {
                ["key": hex($0.key), "value": hex($0.value)]
            }
        }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}
