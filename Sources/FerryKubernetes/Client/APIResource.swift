/// Where a kind is served: `/api/v1/pods`, `/apis/discovery.k8s.io/v1/endpointslices`,
/// or within one namespace `/api/v1/namespaces/ferry-system/configmaps`.
public struct APIResource: Sendable, Hashable, CustomStringConvertible {
    public var kind: String
    /// "v1" for the core group, "group/version" otherwise.
    public var apiVersion: String
    /// The resource name in URLs ("pods").
    public var plural: String
    /// Restrict to one namespace; nil for all namespaces (or cluster-scoped kinds).
    public var namespace: String?

    public init(kind: String, apiVersion: String, plural: String, namespace: String? = nil) {
        self.kind = kind
        self.apiVersion = apiVersion
        self.plural = plural
        self.namespace = namespace
    }

    public var path: String {
        let prefix = apiVersion.contains("/") ? "/apis/\(apiVersion)" : "/api/\(apiVersion)"
        if let namespace { return "\(prefix)/namespaces/\(namespace)/\(plural)" }
        return "\(prefix)/\(plural)"
    }

    public var description: String { path }
}

/// Query strings with every reserved character escaped (selectors contain '=' and ',').
enum QueryString {
    static func encode(_ items: [(String, String)]) -> String {
        items.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
