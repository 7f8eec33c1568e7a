import FerryMesh
import Yams

/// One object as the API server sent it: parsed, not yet typed. JSON is YAML, so
/// Yams parses it and the file source's decoders read it unchanged.
public struct APIObject: @unchecked Sendable {  // Yams nodes are values; nothing mutates one after it is shared
    public private(set) var node: Node

    /// `node` must be a mapping (every API object is).
    public init(node: Node) throws {
        guard case .mapping = node else { throw WireError("an API object must be a JSON object") }
        self.node = node
    }

    public init(json: String) throws {
        try self.init(node: try WireJSON.parse(json))
    }

    public var kind: String? { WireJSON.child(node, "kind")?.scalar?.string }
    public var apiVersion: String? { WireJSON.child(node, "apiVersion")?.scalar?.string }
    public var name: String? { metadata("name") }
    public var namespace: String? { metadata("namespace") }
    public var resourceVersion: String? { metadata("resourceVersion") }
    public var key: ObjectKey { ObjectKey(namespace: namespace ?? "", name: name ?? "") }

    func metadata(_ field: String) -> String? {
        WireJSON.child(WireJSON.child(node, "metadata"), field)?.scalar?.string
    }

    /// Items of a list arrive without `kind` and `apiVersion`; the decoders need them.
    mutating func setTypeIfMissing(kind: String, apiVersion: String) {
        guard case .mapping(let mapping) = node else { return }
        var pairs = mapping.map { ($0.key, $0.value) }
        if self.kind == nil { pairs.append((Node("kind"), Node(kind))) }
        if self.apiVersion == nil { pairs.append((Node("apiVersion"), Node(apiVersion))) }
        node = .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark))
    }

    /// The located view the FerryMesh decoders read; `origin` names the object in errors.
    public func field(origin: String) -> YAMLField {
        YAMLField(node: node, path: "", file: origin)
    }
}

/// namespace/name: an object's identity within its kind.
public struct ObjectKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }
    public static func < (a: ObjectKey, b: ObjectKey) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
}

/// A response body that is not what the API documents.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

enum WireJSON {
    /// One JSON document. Yams parses JSON as YAML; an empty body is an error.
    static func parse(_ text: String) throws -> Node {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw WireError("malformed JSON (\(error)) in '\(text.prefix(120))'")
        }
        guard let node else { throw WireError("empty JSON document") }
        return node
    }

    /// A mapping's value by key, compared as text (keys are plain strings in JSON).
    static func child(_ node: Node?, _ key: String) -> Node? {
        guard case .mapping(let mapping)? = node else { return nil }
        return mapping.first { $0.key.string == key }?.value
    }

    static func string(_ node: Node?, _ key: String) -> String? {
        guard let value = child(node, key), case .scalar(let scalar) = value, !isNull(scalar) else { return nil }
        return scalar.string
    }

    static func int(_ node: Node?, _ key: String) -> Int? { string(node, key).flatMap { Int($0) } }

    static func isNull(_ scalar: Node.Scalar) -> Bool { scalar.style == .plain && scalar.string == "null" }
}
