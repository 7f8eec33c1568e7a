/// Readers for the value lists of Istio security resources. Each one checks its
/// values and names the offending item's path, value and line.
extension YAMLField {
    /// `selector: {matchLabels: {…}}`; nothing else is part of a WorkloadSelector.
    func workloadSelector() throws -> [String: String] {
        try fields(allowing: ["matchLabels"]).stringMap("matchLabels")
    }

    /// String patterns; Istio rejects empty values, which would otherwise match nothing silently.
    func patterns() throws -> [StringMatch] {
        try list().map { item in
            let text = try item.string()
            guard !text.isEmpty else { throw item.error("\(item.path) must not be empty") }
            return StringMatch(text)
        }
    }

    /// Single addresses or CIDR blocks; these fields take no wildcards.
    func cidrs() throws -> [CIDR] {
        try list().map { item in
            let text = try item.string()
            guard let cidr = CIDR(text) else {
                throw item.error("\(item.path): '\(text)' is not an IP address or CIDR block")
            }
            return cidr
        }
    }

    /// Port numbers, written as strings ("8080") or numbers; exact match only.
    func ports() throws -> [Int] {
        try list().map { item in
            let text = try item.string()
            guard let port = Int(text), (0...65535).contains(port) else {
                throw item.error("\(item.path): '\(text)' is not a port number (0-65535)")
            }
            return port
        }
    }
}

extension Dictionary where Key == String, Value == YAMLField {
    /// A field and its `not` twin, read with the same reader.
    func attributeMatch<Pattern>(_ key: String, _ notKey: String,
                                 _ read: (YAMLField) throws -> [Pattern]) throws -> AttributeMatch<Pattern> {
        AttributeMatch(try self[key].map(read) ?? [], not: try self[notKey].map(read) ?? [])
    }

    /// Istio rejects a list that is written but empty (`from: []`): it reads as
    /// "any" yet was surely meant to say something.
    func requireNonEmptyIfPresent(_ key: String, in parent: YAMLField) throws {
        guard let field = self[key], !field.isNull else { return }
        if try field.list().isEmpty { throw parent.error("\(field.path) must not be empty", atKey: key) }
    }
}
