/// A field of an AuthorizationPolicy and its `not` twin (`principals` and
/// `notPrincipals`, `values` and `notValues` …), both parsed to typed patterns.
/// Empty lists constrain nothing.
public struct AttributeMatch<Pattern: Hashable & Sendable & Codable>: Hashable, Sendable, Codable {
    /// The attribute must be one of these (when any are given).
    public var values: [Pattern]
    /// The attribute must be none of these.
    public var notValues: [Pattern]

    public init(_ values: [Pattern] = [], not notValues: [Pattern] = []) {
        self.values = values
        self.notValues = notValues
    }

    public var isEmpty: Bool { values.isEmpty && notValues.isEmpty }
}
