/// How one attempt to an endpoint ended, as the proxy saw it. Retries and
/// outlier detection both read it.
public enum UpstreamResult: Sendable, Hashable {
    /// Response headers arrived with this status.
    case response(status: Int)
    /// No connection (refused, unreachable, connect timeout): the request was never sent.
    case connectFailure
    /// The connection or stream was reset or closed before response headers.
    case reset
    /// The per-attempt (backendRequest) timeout passed before response headers.
    case timeout

    /// A 5xx, or a failure with no response at all: what Istio's
    /// consecutive5xxErrors counts (Envoy maps local failures to 5xx).
    public var isServerError: Bool {
        if case .response(let status) = self { return status >= 500 }
        return true
    }

    /// 502, 503, 504, or a failure with no response: what
    /// consecutiveGatewayErrors counts.
    public var isGatewayError: Bool {
        if case .response(let status) = self { return (502...504).contains(status) }
        return true
    }
}
