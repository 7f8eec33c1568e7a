import Yams

/// One line of a watch stream: `{"type": "ADDED", "object": {...}}`.
public struct WatchEvent: Sendable {
    public enum EventType: String, Sendable, Hashable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
        /// Only `metadata.resourceVersion` is set: everything up to it has been sent.
        case bookmark = "BOOKMARK"
        /// The object is a `Status`; code 410 means the resourceVersion is no longer available.
        case error = "ERROR"
    }

    public var type: EventType
    public var object: APIObject

    public init(type: EventType, object: APIObject) {
        self.type = type
        self.object = object
    }

    /// Parses one line of the stream.
    public init(line: some StringProtocol) throws {
        let node = try WireJSON.parse(String(line))
        guard let typeText = WireJSON.string(node, "type") else {
            throw WireError("watch event without a type: '\(line.prefix(120))'")
        }
        guard let type = EventType(rawValue: typeText) else {
            throw WireError("watch event of unknown type '\(typeText)'")
        }
        guard let object = WireJSON.child(node, "object") else {
            throw WireError("\(typeText) watch event without an object")
        }
        self.init(type: type, object: try APIObject(node: object))
    }

    /// The Status an ERROR event carries.
    public var status: APIStatus? { type == .error ? APIStatus(object.node) : nil }
}

/// A `Status` object, as the API server reports failures in bodies and ERROR events.
public struct APIStatus: Sendable, Hashable, CustomStringConvertible {
    public var code: Int?
    public var reason: String?
    public var message: String?

    public init(code: Int?, reason: String? = nil, message: String? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
    }

    init?(_ node: Node) {
        guard WireJSON.string(node, "kind") == "Status" || WireJSON.child(node, "code") != nil else { return nil }
        self.init(code: WireJSON.int(node, "code"), reason: WireJSON.string(node, "reason"),
                  message: WireJSON.string(node, "message"))
    }

    /// From an error response body, when it is a Status.
    init?(body: String) {
        guard let node = try? WireJSON.parse(body) else { return nil }
        self.init(node)
    }

    public var description: String {
        [code.map { "\($0)" }, reason, message].compactMap { $0 }.joined(separator: " ")
    }
}
