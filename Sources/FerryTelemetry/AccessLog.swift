import Foundation
import Synchronization

/// One JSON object per line on stdout, as Kubernetes log collectors expect:
/// a line per L4 connection close and per L7 request.
public final class AccessLog: Sendable {
    private let enabled: Atomic<Bool>
    private let lock = Mutex<Void>(())
    private let sink: @Sendable (String) -> Void

    public init(enabled: Bool = true, sink: (@Sendable (String) -> Void)? = nil) {
        self.enabled = Atomic(enabled)
        self.sink = sink ?? { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }

    public func setEnabled(_ on: Bool) { enabled.store(on, ordering: .relaxed) }

    /// Whether lines are written; check before building an entry.
    public var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// Writes one entry; keys are sorted so lines are stable for tests and grep.
    public func log(_ fields: [String: AccessLogValue]) {
        guard enabled.load(ordering: .relaxed) else { return }
        let object = fields.mapValues(\.json)
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
              let line = String(data: data, encoding: .utf8) else { return }
        lock.withLock { _ in sink(line) }
    }
}

/// A value in an access-log line.
public enum AccessLogValue: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case int(Int64)
    case double(Double)
    case null

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(_ value: String?) { self = value.map { .string($0) } ?? .null }
    public init(_ value: UInt64) { self = .int(Int64(clamping: value)) }
    public init(_ value: Int) { self = .int(Int64(value)) }

    var json: Any {
        switch self {
        case .string(let s): s
        case .int(let i): i
        case .double(let d): d
        case .null: NSNull()
        }
    }
}

extension Date {
    /// RFC 3339 with milliseconds, UTC: Envoy's and ztunnel's `start_time`.
    /// Formatted with gmtime_r: Foundation's formatters cost tens of
    /// microseconds each, too much for a line per request.
    public var rfc3339: String {
        let seconds = timeIntervalSince1970
        var whole = time_t(seconds.rounded(.down))
        let millis = Int((seconds - Double(whole)) * 1000)
        var parts = tm()
        gmtime_r(&whole, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let ms = millis < 10 ? "00\(millis)" : millis < 100 ? "0\(millis)" : "\(millis)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(ms)Z"
    }
}
