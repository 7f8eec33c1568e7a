import Yams

/// A typed, located view of one YAML node. Every accessor names the field's path
/// and line in its error, and `fields(allowing:)` refuses unknown keys, so a typo
/// in a policy is an error rather than a silently ignored rule.
public struct YAMLField: @unchecked Sendable {  // Yams nodes are immutable values
    public let node: Node
    /// Dotted path from the document root, for messages: "spec.rules[0].from".
    public let path: String
    public let file: String

    public init(node: Node, path: String, file: String) {
        self.node = node
        self.path = path
        self.file = file
    }

    public var line: Int { node.mark?.line ?? 0 }

    public func error(_ message: String) -> ResourceError {
        ResourceError(file: file, line: line, message: message)
    }

    /// An error placed on the line of one of this mapping's keys, which is where a
    /// reader looks when the value is a block that starts on the next line.
    public func error(_ message: String, atKey key: String) -> ResourceError {
        if case .mapping(let mapping) = node,
           let keyNode = mapping.first(where: { $0.key.string == key })?.key, let mark = keyNode.mark {
            return ResourceError(file: file, line: mark.line, message: message)
        }
        return error(message)
    }

    public var isNull: Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    public func string() throws -> String {
        guard case .scalar(let scalar) = node else { throw error("\(path) must be a string") }
        return scalar.string
    }

    public func int() throws -> Int {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            throw error("\(path) must be an integer")
        }
        return value
    }

    /// A TCP port number (1–65535). The data path keys its maps by 16-bit
    /// ports, so a number outside is bad input here, not a trap there.
    public func port() throws -> Int {
        let value = try int()
        guard (1...65535).contains(value) else { throw error("\(path): port \(value) is out of range (1-65535)") }
        return value
    }

    public func bool() throws -> Bool {
        guard case .scalar(let scalar) = node else { throw error("\(path) must be true or false") }
        switch scalar.string.lowercased() {
        case "true": return true
        case "false": return false
        default: throw error("\(path) must be true or false, not '\(scalar.string)'")
        }
    }

    /// A mapping's fields; keys outside `allowing` are an error naming the key.
    public func fields(allowing allowed: Set<String>? = nil) throws -> [String: YAMLField] {
        if isNull { return [:] }
        guard case .mapping(let mapping) = node else { throw error("\(path) must be a mapping") }
        var result: [String: YAMLField] = [:]
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.string else { throw error("\(path) has a non-string key") }
            if let allowed, !allowed.contains(key) {
                let known = allowed.sorted().joined(separator: ", ")
                throw ResourceError(file: file, line: keyNode.mark?.line ?? line,
                                    message: "unknown field '\(key)' in \(path) (known: \(known))")
            }
            result[key] = YAMLField(node: valueNode, path: path.isEmpty ? key : "\(path).\(key)", file: file)
        }
        return result
    }

    public func list() throws -> [YAMLField] {
        if isNull { return [] }
        guard case .sequence(let sequence) = node else { throw error("\(path) must be a list") }
        return sequence.enumerated().map { YAMLField(node: $1, path: "\(path)[\($0)]", file: file) }
    }

    public func stringList() throws -> [String] { try list().map { try $0.string() } }

    public func stringMap() throws -> [String: String] {
        try fields().mapValues { try $0.string() }
    }
}

extension Dictionary where Key == String, Value == YAMLField {
    public func string(_ key: String) throws -> String? { try self[key].flatMap { $0.isNull ? nil : try $0.string() } }
    public func int(_ key: String) throws -> Int? { try self[key].flatMap { $0.isNull ? nil : try $0.int() } }
    public func port(_ key: String) throws -> Int? { try self[key].flatMap { $0.isNull ? nil : try $0.port() } }
    public func bool(_ key: String) throws -> Bool? { try self[key].flatMap { $0.isNull ? nil : try $0.bool() } }
    public func stringList(_ key: String) throws -> [String] { try self[key]?.stringList() ?? [] }
    public func stringMap(_ key: String) throws -> [String: String] { try self[key]?.stringMap() ?? [:] }
    public func list(_ key: String) throws -> [YAMLField] { try self[key]?.list() ?? [] }
    public func fields(_ key: String, allowing: Set<String>? = nil) throws -> [String: YAMLField] {
        try self[key]?.fields(allowing: allowing) ?? [:]
    }

    /// A required string, with an error naming the path when missing.
    public func requiredString(_ key: String, in parent: YAMLField) throws -> String {
        guard let value = try string(key), !value.isEmpty else {
            throw parent.error("\(parent.path.isEmpty ? key : parent.path + "." + key) is required")
        }
        return value
    }
}
