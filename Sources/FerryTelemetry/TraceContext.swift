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
    /// spec requires (a new trace is started then). A later version may append
    /// fields after a "-". Works on the UTF-8 bytes: it runs for every request
    /// that carries a traceparent.
    public init?(traceparent: String) {
        var text = traceparent
        guard let parsed = text.withUTF8({ Self.parse($0) }) else { return nil }
        self = parsed
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> TraceContext? {
        func isSpace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, isSpace(bytes[start]) { start += 1 }
        while end > start, isSpace(bytes[end - 1]) { end -= 1 }
        let dash = UInt8(ascii: "-")
        let length = end - start
        guard length >= 55, bytes[start + 2] == dash, bytes[start + 35] == dash, bytes[start + 52] == dash,
              length == 55 || bytes[start + 55] == dash,
              let version = hexValue(bytes, start, 2), version != 0xff, version != 0 || length == 55,
              let traceID = lowercaseHex(bytes, start + 3, 32), let spanID = lowercaseHex(bytes, start + 36, 16),
              let flags = hexValue(bytes, start + 53, 2)
        else { return nil }
        return TraceContext(traceID: traceID, spanID: spanID, sampled: flags & 1 == 1)
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func hexValue(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int, _ count: Int) -> UInt8? {
        var value: UInt8 = 0
        for index in at..<(at + count) {
            guard let digit = nibble(bytes[index]) else { return nil }
            value = value << 4 | digit
        }
        return value
    }

    /// `count` hex digits as lowercase text; nil if any is not hex or all are zero.
    private static func lowercaseHex(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int, _ count: Int) -> String? {
        var valid = true, nonZero = false
        let text = String(unsafeUninitializedCapacity: count) { buffer in
            for offset in 0..<count {
                var byte = bytes[at + offset]
                guard nibble(byte) != nil else { valid = false; return 0 }
                if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F") { byte += 32 }
                nonZero = nonZero || byte != UInt8(ascii: "0")
                buffer[offset] = byte
            }
            return count
        }
        return valid && nonZero ? text : nil
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
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
