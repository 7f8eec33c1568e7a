/// How a header, query parameter or URI value is matched in the traffic kinds:
/// HTTPRoute offers exact and regex; VirtualService's fault matches add prefix.
/// Comparison is byte-wise and case-sensitive, as Envoy compares.
public enum ValueMatch: Hashable, Sendable, CustomStringConvertible {
    case exact(String)
    case prefix(String)
    case regularExpression(CompiledRegex)

    public func matches(_ value: Substring) -> Bool {
        switch self {
        case .exact(let text): value.utf8.elementsEqual(text.utf8)
        case .prefix(let text): value.utf8.starts(with: text.utf8)
        case .regularExpression(let regex): regex.wholeMatch(value)
        }
    }

    public func matches(_ value: String) -> Bool { matches(value[...]) }

    public var description: String {
        switch self {
        case .exact(let text): "exact '\(text)'"
        case .prefix(let text): "prefix '\(text)'"
        case .regularExpression(let regex): "regex '\(regex.pattern)'"
        }
    }
}

/// A named value match: a header (name held lower-cased) or a query parameter
/// (name held as written; query parameter names are case-sensitive).
public struct NamedValueMatch: Hashable, Sendable {
    public var name: String
    public var value: ValueMatch

    public init(name: String, value: ValueMatch) {
        self.name = name
        self.value = value
    }
}
