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
        let bytes = value.utf8
        switch self {
        case .presence:
            return !bytes.isEmpty
        case .exact(let pattern):
            return bytes.count == pattern.utf8.count && Self.equal(bytes, pattern.utf8, ignoringCase)
        case .prefix(let pattern):
            return bytes.count >= pattern.utf8.count
                && Self.equal(bytes.prefix(pattern.utf8.count), pattern.utf8, ignoringCase)
        case .suffix(let pattern):
            return bytes.count >= pattern.utf8.count
                && Self.equal(bytes.suffix(pattern.utf8.count), pattern.utf8, ignoringCase)
        }
    }

    public func matches(_ value: String, ignoringCase: Bool = false) -> Bool {
        matches(value[...], ignoringCase: ignoringCase)
    }

    private static func equal(_ a: Substring.UTF8View, _ b: String.UTF8View, _ ignoringCase: Bool) -> Bool {
        ignoringCase ? a.elementsEqual(b) { lowered($0) == lowered($1) } : a.elementsEqual(b)
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
