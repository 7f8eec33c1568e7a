/// A request the API server answered with an error status.
public struct APIError: Error, Hashable, Sendable, CustomStringConvertible {
    public var method: String
    public var path: String
    public var statusCode: Int
    /// The Status body, when there was one.
    public var status: APIStatus?

    public init(method: String = "GET", path: String, statusCode: Int, status: APIStatus? = nil) {
        self.method = method
        self.path = path
        self.statusCode = statusCode
        self.status = status
    }

    /// 410: the resourceVersion or continue token is older than the server keeps.
    public var isGone: Bool { statusCode == 410 }
    /// 404 on a collection: the kind is not served (a CRD that is not installed).
    public var isNotFound: Bool { statusCode == 404 }

    public var description: String {
        let detail = status?.message ?? status?.reason ?? ""
        return "\(method) \(path): HTTP \(statusCode)\(detail.isEmpty ? "" : ": \(detail)")"
    }
}
