/// Cuts a watch body into lines. The API server writes one JSON object per line,
/// but chunk boundaries fall anywhere, so partial lines wait for the rest.
public struct LineSplitter: Sendable {
    private var pending: [UInt8] = []
    /// A line longer than this is an error rather than unbounded memory.
    public let maximumLineLength: Int

    public init(maximumLineLength: Int = 64 << 20) {
        self.maximumLineLength = maximumLineLength
    }

    /// Appends bytes and returns the lines they complete, without their "\n" or "\r\n";
    /// blank lines are dropped.
    public mutating func append(_ bytes: some Collection<UInt8>) throws -> [String] {
        var lines: [String] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
                if !pending.isEmpty { lines.append(String(decoding: pending, as: UTF8.self)) }
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(byte)
                if pending.count > maximumLineLength {
                    throw WireError("watch event longer than \(maximumLineLength) bytes")
                }
            }
        }
        return lines
    }

    /// Bytes of an unfinished line.
    public var pendingCount: Int { pending.count }
}
