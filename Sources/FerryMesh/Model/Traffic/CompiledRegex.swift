/// A regular expression from a traffic resource, compiled when the resource is
/// read so a bad pattern is a decoding error with a line, never a runtime surprise.
/// Matching is whole-string, as Envoy's `safe_regex` matches.
///
/// `Regex` is not `Sendable` because its compiled program is built lazily; the
/// initializer forces that build once, after which the value is only read, so
/// sharing it across threads is safe.
public struct CompiledRegex: @unchecked Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    private let regex: Regex<AnyRegexOutput>

    /// Throws the parser's message when the pattern is not a valid regex.
    public init(_ pattern: String) throws {
        self.pattern = pattern
        regex = try Regex(pattern)
        _ = try? regex.wholeMatch(in: "")  // build the program now, not on a shared first use
    }

    public func wholeMatch(_ value: Substring) -> Bool {
        (try? regex.wholeMatch(in: value)) != nil
    }

    public func wholeMatch(_ value: String) -> Bool { wholeMatch(value[...]) }

    public var description: String { pattern }
    public static func == (a: CompiledRegex, b: CompiledRegex) -> Bool { a.pattern == b.pattern }
    public func hash(into hasher: inout Hasher) { hasher.combine(pattern) }
}

extension YAMLField {
    /// The field as a regex, with the parser's complaint on the field's line.
    func regex() throws -> CompiledRegex {
        let text = try string()
        do {
            return try CompiledRegex(text)
        } catch {
            throw self.error("\(path): '\(text)' is not a valid regular expression (\(error))")
        }
    }
}
