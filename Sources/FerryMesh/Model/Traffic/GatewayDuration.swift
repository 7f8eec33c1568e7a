/// Durations in the Gateway API's restricted form: one to four groups of up to
/// five digits, each followed by h, m, s or ms ("10s", "1m30s", "500ms"); no
/// fractions or spaces. Go-style durations ("1.5s", "10us") are refused, since
/// an API server would refuse them too.
public enum GatewayDuration {
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        var total = Duration.zero
        var groups = 0
        while !rest.isEmpty {
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard (1...5).contains(digits.count), let value = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            if rest.hasPrefix("ms") {
                total += .milliseconds(value)
                rest = rest.dropFirst(2)
                groups += 1
                continue
            }
            switch rest.first {
            case "h": total += .seconds(value * 3600)
            case "m": total += .seconds(value * 60)
            case "s": total += .seconds(value)
            default: return nil
            }
            rest = rest.dropFirst()
            groups += 1
        }
        return (1...4).contains(groups) ? total : nil
    }
}
