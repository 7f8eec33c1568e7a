import Glibc

/// One value of an AuthorizationPolicy string field, with Istio's value matching:
/// "abc" exact, "abc*" prefix, "*abc" suffix, "*" presence (any non-empty value).
/// Parsed once when the policy is read, so deciding never looks at the '*'.
public enum StringMatch: Hashable, Sendable, CustomStringConvertible, Codable {
    case exact(String)
    case prefix(String)
    case suffix(String)
    /// Present and not empty.
    case presence

    /// Istio reads a leading '*' before a trailing one, so "*a*" is the suffix "a*".
    public init(_ pattern: String) {
        if pattern == "*" {
            self = .presence
        } else if pattern.hasPrefix("*") {
            self = .suffix(String(pattern.dropFirst()))
        } else if pattern.hasSuffix("*") {
            self = .prefix(String(pattern.dropLast()))
        } else {
            self = .exact(pattern)
        }
    }

    /// The pattern as written.
    public var description: String {
        switch self {
        case .exact(let value): value
        case .prefix(let value): value + "*"
        case .suffix(let value): "*" + value
        case .presence: "*"
        }
    }

    /// Byte-wise, as Envoy and ztunnel compare (no Unicode normalisation).
    /// `ignoringCase` folds ASCII letters only, which is what host matching needs.
    public func matches(_ value: Substring, ignoringCase: Bool = false) -> Bool {
        let pattern: String
        switch self {
        case .presence: return !value.utf8.isEmpty
        case .exact(let text), .prefix(let text), .suffix(let text): pattern = text
        }
        // Native strings lend their bytes directly, and comparing buffers is
        // several times faster than walking UTF8View indices.
        let lent = value.utf8.withContiguousStorageIfAvailable { bytes in
            pattern.utf8.withContiguousStorageIfAvailable { wanted in
                compare(UnsafeRawBufferPointer(bytes), UnsafeRawBufferPointer(wanted), ignoringCase)
            }
        }
        if let result = lent ?? nil { return result }
        // Bridged strings lend nothing; decoded YAML never gets here.
        return Array(value.utf8).withUnsafeBytes { bytes in
            Array(pattern.utf8).withUnsafeBytes { wanted in compare(bytes, wanted, ignoringCase) }
        }
    }

    public func matches(_ value: String, ignoringCase: Bool = false) -> Bool {
        matches(value[...], ignoringCase: ignoringCase)
    }

    /// Where the pattern's bytes must sit in the value, then a byte compare.
    private func compare(_ value: UnsafeRawBufferPointer, _ pattern: UnsafeRawBufferPointer, _ ignoringCase: Bool) -> Bool {
        guard value.count >= pattern.count else { return false }
        let offset: Int
        switch self {
        case .exact: if value.count != pattern.count { return false }; offset = 0
        case .prefix: offset = 0
        case .suffix: offset = value.count - pattern.count
        case .presence: return !value.isEmpty
        }
        if pattern.isEmpty { return true }
        if !ignoringCase { return memcmp(value.baseAddress! + offset, pattern.baseAddress!, pattern.count) == 0 }
        for index in 0..<pattern.count where Self.lowered(value[offset + index]) != Self.lowered(pattern[index]) {
            return false
        }
        return true
    }

    private static func lowered(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }

    public init(from decoder: Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
