import Foundation

/// The capabilities loading and attaching Ferry's programs takes, read from
/// the process's effective set: root has them, and so does a container or a
/// binary granted just these three.
public enum Capabilities {
    public static let needed: [(name: String, bit: Int)] = [("CAP_BPF", 39), ("CAP_NET_ADMIN", 12), ("CAP_SYS_ADMIN", 21)]

    /// The needed ones this process lacks (all of them when the set cannot be read).
    public static func missing(status: String? = nil) -> [String] {
        let text = status ?? (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
        let mask = line.flatMap { UInt64($0.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16) } ?? 0
        return needed.filter { mask & (1 << UInt64($0.bit)) == 0 }.map(\.name)
    }
}
