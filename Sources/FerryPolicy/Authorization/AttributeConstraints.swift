import FerryMesh

// One field and its `not` twin, ready to test. The semantics, shared by all:
// with `values`, the attribute must be present and match one; with `notValues`,
// a present attribute must match none. An absent attribute (no principal on a
// plaintext connection, a missing header) passes `notValues`, as in Envoy and
// ztunnel, which is what makes `notPrincipals: ["*"]` deny plaintext.

struct StringConstraint: Sendable {
    let values: [StringMatch]
    let notValues: [StringMatch]
    let ignoringCase: Bool

    init(_ match: AttributeMatch<StringMatch>, ignoringCase: Bool = false) {
        values = match.values
        notValues = match.notValues
        self.ignoringCase = ignoringCase
    }

    var isEmpty: Bool { values.isEmpty && notValues.isEmpty }

    func matches(_ value: Substring?) -> Bool {
        if !values.isEmpty {
            guard let value, values.contains(where: { $0.matches(value, ignoringCase: ignoringCase) }) else { return false }
        }
        if !notValues.isEmpty, let value, notValues.contains(where: { $0.matches(value, ignoringCase: ignoringCase) }) {
            return false
        }
        return true
    }

    func matches(_ value: String?) -> Bool { matches(value.map { $0[...] }) }
}

struct PortConstraint: Sendable {
    let values: [Int]
    let notValues: [Int]

    init(_ match: AttributeMatch<Int>) {
        values = match.values
        notValues = match.notValues
    }

    func matches(_ port: Int) -> Bool {
        (values.isEmpty || values.contains(port)) && !notValues.contains(port)
    }
}

struct CIDRConstraint: Sendable {
    let values: [AddressBlock]
    let notValues: [AddressBlock]

    init(_ match: AttributeMatch<CIDR>) {
        values = match.values.map(AddressBlock.init)
        notValues = match.notValues.map(AddressBlock.init)
    }

    func matches(_ address: IPAddress?) -> Bool {
        if values.isEmpty && notValues.isEmpty { return true }
        guard let address else { return values.isEmpty }
        let words = AddressWords(address)
        return (values.isEmpty || values.contains { $0.contains(words) }) && !notValues.contains { $0.contains(words) }
    }
}

/// An address as two big-endian words, so a block test is two masks and two
/// compares with no allocation (`CIDR.contains` builds byte arrays).
struct AddressWords: Sendable, Equatable {
    let high: UInt64
    let low: UInt64

    init(_ address: IPAddress) {
        (high, low) = withUnsafeBytes(of: address.bytes) { raw in
            (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
             UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        }
    }
}

/// A CIDR block over the 128-bit (IPv4-mapped) address, pre-masked.
struct AddressBlock: Sendable {
    let network: AddressWords
    let maskHigh: UInt64
    let maskLow: UInt64

    init(_ cidr: CIDR) {
        network = AddressWords(cidr.network)
        let length = cidr.prefixLength
        maskHigh = Self.mask(bits: min(64, length))
        maskLow = Self.mask(bits: max(0, length - 64))
    }

    func contains(_ address: AddressWords) -> Bool {
        address.high & maskHigh == network.high && address.low & maskLow == network.low
    }

    private static func mask(bits: Int) -> UInt64 { bits == 0 ? 0 : ~UInt64(0) << (64 - bits) }
}
