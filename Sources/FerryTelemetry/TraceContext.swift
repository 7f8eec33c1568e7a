import FerryMesh

/// W3C Trace Context (`traceparent`): the trace id is kept end to end and every
/// hop gets a span id of its own.
public struct TraceContext: Sendable, Hashable, CustomStringConvertible {
    /// 16 bytes as 32 lowercase hex digits.
    public var traceID: String
    /// 8 bytes as 16 lowercase hex digits.
    public var spanID: String
    public var sampled: Bool

    public init(traceID: String, spanID: String, sampled: Bool) {
        self.traceID = traceID
        self.spanID = spanID
        self.sampled = sampled
    }

    /// A new trace.
    public static func fresh(sampled: Bool = true) -> TraceContext {
        TraceContext(traceID: randomHex(bytes: 16), spanID: randomHex(bytes: 8), sampled: sampled)
    }

    /// Parses "00-<trace>-<span>-<flags>"; nil when malformed or all-zero, as the
    /// spec requires (a new trace is started then).
    public init?(traceparent: String) {
        let parts = traceparent.trimmingWhitespace().split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff",
              parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isHexDigit) }),
              parts[0] != "00" || parts.count == 4,
              parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" }),
              let flags = UInt8(parts[3], radix: 16)
        else { return nil }
        traceID = parts[1].lowercased()
        spanID = parts[2].lowercased()
        sampled = flags & 1 == 1
    }

    /// The same trace, a new span: what this hop sends on.
    public func child() -> TraceContext {
        TraceContext(traceID: traceID, spanID: Self.randomHex(bytes: 8), sampled: sampled)
    }

    public var traceparent: String { "00-\(traceID)-\(spanID)-\(sampled ? "01" : "00")" }
    public var description: String { traceparent }

    /// `bytes` (8 or 16) random bytes as hex, never all zero; 64 bits per draw.
    /// Written straight into the string's storage: this runs for every request.
    static func randomHex(bytes: Int) -> String {
        var generator = SplitMix64()
        let digits = Array("0123456789abcdef".utf8)
        while true {
            var nonZero = false
            let text = String(unsafeUninitializedCapacity: bytes * 2) { buffer in
                for draw in 0..<(bytes / 8) {
                    let word: UInt64 = generator.next()
                    nonZero = nonZero || word != 0
                    for nibble in 0..<16 {
                        buffer[draw * 16 + nibble] = digits[Int((word >> UInt64(60 - 4 * nibble)) & 0xf)]
                    }
                }
                return bytes * 2
            }
            if nonZero { return text }
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing whitespace.
    public func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
