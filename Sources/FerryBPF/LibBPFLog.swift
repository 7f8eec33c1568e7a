import CLibBPF
import Logging
import Synchronization

/// Routes libbpf's own log lines into swift-log, and keeps the most recent
/// warnings so a failed load can report what the verifier said.
public enum LibBPFLog {
    private static let state = Mutex<(logger: Logger, recent: [String])>(
        (Logger(label: "ferry.libbpf"), [])
    )

    /// Installs the print callback; call once before opening objects.
    public static func install(logger: Logger) {
        state.withLock { $0.logger = logger }
        libbpf_set_print { level, format, args in
            guard let format, let args else { return 0 }
            var buffer = [CChar](repeating: 0, count: 4096)
            let written = ferry_format_libbpf_log(&buffer, buffer.count, format, args)
            guard written > 0 else { return 0 }
            let line = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.trimmingTrailingNewlines()
            LibBPFLog.record(level: level, line: line)
            return written
        }
    }

    static func record(level: libbpf_print_level, line: String) {
        state.withLock { state in
            switch level {
            case LIBBPF_WARN:
                state.logger.warning("\(line)")
                state.recent.append(line)
                if state.recent.count > 40 { state.recent.removeFirst(state.recent.count - 40) }
            case LIBBPF_INFO:
                state.logger.debug("\(line)")
            default:
                state.logger.trace("\(line)")
            }
        }
    }

    /// The warnings logged since the last call, joined, for error details. The
    /// verifier's verdict is usually the line before "-- END PROG LOAD LOG --".
    static func takeRecent() -> String? {
        let lines = state.withLock { state -> [String] in
            defer { state.recent.removeAll() }
            return state.recent
        }
        guard !lines.isEmpty else { return nil }
        if let end = lines.lastIndex(where: { $0.contains("END PROG LOAD LOG") }), end > 0 {
            let verdict = lines[..<end].last(where: { !$0.hasPrefix("processed") && !$0.isEmpty })
            if let verdict { return "verifier: \(verdict)" }
        }
        return lines.last
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
