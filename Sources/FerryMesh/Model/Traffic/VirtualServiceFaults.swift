/// The fault-injection part of an Istio VirtualService (`networking.istio.io`):
/// delays and aborts for requests to the Services in `hosts`. Ferry routes with
/// HTTPRoute, so a VirtualService that routes is refused when read.
public struct VirtualServiceFaults: Hashable, Sendable {
    public var name: String
    public var namespace: String
    public var creationTimestamp: String?
    public var hosts: [ServiceName]
    /// In the order written; the first rule whose match holds decides, even
    /// when it has no fault (as Istio's first matching `http` entry does).
    public var rules: [FaultRule]

    public init(name: String, namespace: String, creationTimestamp: String? = nil, hosts: [ServiceName], rules: [FaultRule]) {
        self.name = name
        self.namespace = namespace
        self.creationTimestamp = creationTimestamp
        self.hosts = hosts
        self.rules = rules
    }

    public var key: String { "\(namespace)/\(name)" }
}

/// One `http` entry of a VirtualService.
public struct FaultRule: Hashable, Sendable {
    public var name: String?
    /// ORed; empty matches every request.
    public var matches: [FaultMatch]
    public var delay: FaultDelay?
    public var abort: FaultAbort?

    public init(name: String? = nil, matches: [FaultMatch] = [], delay: FaultDelay? = nil, abort: FaultAbort? = nil) {
        self.name = name
        self.matches = matches
        self.delay = delay
        self.abort = abort
    }
}

/// Every given condition must hold.
public struct FaultMatch: Hashable, Sendable {
    /// Against the path without its query string.
    public var uri: ValueMatch?
    /// Names lower-cased.
    public var headers: [NamedValueMatch]

    public init(uri: ValueMatch? = nil, headers: [NamedValueMatch] = []) {
        self.uri = uri
        self.headers = headers
    }
}

public struct FaultDelay: Hashable, Sendable {
    public var fixedDelay: Duration
    /// 0...100.
    public var percentage: Double

    public init(fixedDelay: Duration, percentage: Double) {
        self.fixedDelay = fixedDelay
        self.percentage = percentage
    }
}

public struct FaultAbort: Hashable, Sendable {
    public var httpStatus: Int
    /// 0...100.
    public var percentage: Double

    public init(httpStatus: Int, percentage: Double) {
        self.httpStatus = httpStatus
        self.percentage = percentage
    }
}
