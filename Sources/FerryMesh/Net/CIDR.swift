/// An address block ("198.18.0.0/15", "2001:db8::/32", or a bare address).
/// IPv4 blocks are held over the mapped form, so their prefix is 96 + n bits.
public struct CIDR: Hashable, Sendable, CustomStringConvertible, Codable {
    public var network: IPAddress
    /// Prefix length over the 128-bit (mapped) address.
    public var prefixLength: Int

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let address = IPAddress(parts[0]) else { return nil }
        let maxLength = address.isIPv4 ? 32 : 128
        var length = maxLength
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...maxLength).contains(parsed), !parts[1].hasPrefix("+") else { return nil }
            length = parsed
        }
        prefixLength = address.isIPv4 ? 96 + length : length
        network = CIDR.mask(address, prefixLength)
    }

    public var isIPv4: Bool { network.isIPv4 && prefixLength >= 96 }

    public func contains(_ address: IPAddress) -> Bool {
        CIDR.mask(address, prefixLength) == network
    }

    public var description: String {
        isIPv4 ? "\(network)/\(prefixLength - 96)" : "\(network)/\(prefixLength)"
    }

    static func mask(_ address: IPAddress, _ length: Int) -> IPAddress {
        var bytes = address.byteArray
        for index in 0..<16 {
            let bitsHere = max(0, min(8, length - index * 8))
            bytes[index] &= bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - bitsHere))
        }
        return IPAddress(byteArray: bytes)
    }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let cidr = CIDR(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad CIDR '\(text)'"))
        }
        self = cidr
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
