import Foundation

/// Durations written as Go and Kubernetes write them: "24h", "1m30s", "250ms", "1.5s".
public enum GoDuration {
    /// Returns nil when the text is not a duration, or is one past what Go
    /// itself accepts (±2^63 ns, about 292 years): out-of-range numbers come
    /// from configuration, and must be refused as bad input, not trap.
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        if rest == "0" { return .zero }
        var total: Int64 = 0
        while !rest.isEmpty {
            let number = rest.prefix(while: { $0.isNumber || $0 == "." })
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix(while: { $0.isLetter || $0 == "µ" })
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "h": scale = 3600
            case "m": scale = 60
            case "s": scale = 1
            case "ms": scale = 1e-3
            case "us", "µs": scale = 1e-6
            case "ns": scale = 1e-9
            default: return nil
            }
            let nanoseconds = (value * scale * 1e9).rounded()
            // 2^63 itself is not an Int64; the comparison is exact in Double.
            guard nanoseconds < 0x1p63 else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(Int64(nanoseconds))
            guard !overflow else { return nil }
            total = sum
        }
        return .nanoseconds(total)
    }

    public static func format(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
        if seconds >= 60, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
        if seconds >= 1, seconds == seconds.rounded() { return "\(Int(seconds))s" }
        return "\(Int((seconds * 1000).rounded()))ms"
    }
}

extension Duration {
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
