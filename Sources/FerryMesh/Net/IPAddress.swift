import Glibc

/// An IPv4 or IPv6 address in 16 bytes; IPv4 is held IPv4-mapped (::ffff:a.b.c.d),
/// the same form the BPF maps use (ferry_abi.h).
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// Network byte order.
    public var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                       UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    public init?(_ text: some StringProtocol) {
        let string = String(text)
        var v4 = in_addr()
        if inet_pton(AF_INET, string, &v4) == 1 {
            self.init(ipv4NetworkOrder: v4.s_addr)
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, string, &v6) == 1 else { return nil }
        self.init(byteArray: withUnsafeBytes(of: v6) { Array($0) })
    }

    /// From an IPv4 address as stored in `in_addr.s_addr`.
    public init(ipv4NetworkOrder: UInt32) {
        let b = withUnsafeBytes(of: ipv4NetworkOrder) { Array($0) }
        bytes = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, b[0], b[1], b[2], b[3])
    }

    /// From four 32-bit words as the BPF structs hold them (network byte order).
    public init(words: (UInt32, UInt32, UInt32, UInt32)) {
        let raw = withUnsafeBytes(of: words) { Array($0) }
        bytes = (raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
                 raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15])
    }

    public init(byteArray raw: [UInt8]) {
        precondition(raw.count == 16)
        bytes = (raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
                 raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15])
    }

    public var byteArray: [UInt8] { withUnsafeBytes(of: bytes) { Array($0) } }

    /// The four words for a BPF struct field.
    public var words: (UInt32, UInt32, UInt32, UInt32) {
        withUnsafeBytes(of: bytes) { raw in
            (raw.load(fromByteOffset: 0, as: UInt32.self), raw.load(fromByteOffset: 4, as: UInt32.self),
             raw.load(fromByteOffset: 8, as: UInt32.self), raw.load(fromByteOffset: 12, as: UInt32.self))
        }
    }

    public var isIPv4: Bool {
        let b = byteArray
        return b[0..<10].allSatisfy { $0 == 0 } && b[10] == 0xff && b[11] == 0xff
    }

    public var isLoopback: Bool {
        isIPv4 ? byteArray[12] == 127 : self == IPAddress("::1")!
    }

    /// The IPv4 address as `in_addr.s_addr`, when this is IPv4.
    public var ipv4NetworkOrder: UInt32? {
        guard isIPv4 else { return nil }
        return withUnsafeBytes(of: bytes) { $0.load(fromByteOffset: 12, as: UInt32.self) }
    }

    public var description: String {
        if ipv4NetworkOrder != nil {
            // Dotted quad by hand: glibc's inet_ntop formats IPv4 with sprintf.
            return "\(bytes.12).\(bytes.13).\(bytes.14).\(bytes.15)"
        }
        var addr = in6_addr()
        withUnsafeMutableBytes(of: &addr) { raw in
            for (index, byte) in byteArray.enumerated() { raw[index] = byte }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    public static func == (lhs: IPAddress, rhs: IPAddress) -> Bool { lhs.byteArray == rhs.byteArray }
    public func hash(into hasher: inout Hasher) { withUnsafeBytes(of: bytes) { hasher.combine(bytes: $0) } }
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        lhs.byteArray.lexicographicallyPrecedes(rhs.byteArray)
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad IP address '\(text)'"))
        }
        self = address
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An address and port: where a connection goes.
public struct IPEndpoint: Hashable, Sendable, CustomStringConvertible, Codable {
    public var ip: IPAddress
    public var port: Int

    public init(ip: IPAddress, port: Int) {
        self.ip = ip
        self.port = port
    }

    /// Parses "1.2.3.4:80" or "[2001:db8::1]:80".
    public init?(_ text: some StringProtocol) {
        let string = String(text)
        if string.hasPrefix("[") {
            guard let close = string.firstIndex(of: "]"),
                  string[string.index(after: close)...].hasPrefix(":"),
                  let ip = IPAddress(string[string.index(after: string.startIndex)..<close]),
                  let port = Int(string[string.index(close, offsetBy: 2)...]), (0...65535).contains(port)
            else { return nil }
            self.init(ip: ip, port: port)
            return
        }
        guard let colon = string.lastIndex(of: ":"),
              let ip = IPAddress(string[..<colon]), ip.isIPv4,
              let port = Int(string[string.index(after: colon)...]), (0...65535).contains(port)
        else { return nil }
        self.init(ip: ip, port: port)
    }

    public var description: String { ip.isIPv4 ? "\(ip):\(port)" : "[\(ip)]:\(port)" }
}
