import FerryMesh

/// Istio fault injection: the first rule whose match holds decides (a rule
/// without a fault means no fault); its delay and abort are drawn
/// independently, each with its own percentage. A request can be both
/// delayed and then aborted, as in Envoy's fault filter.
public enum FaultInjector {
    public struct Decision: Sendable, Equatable {
        /// Wait this long before going on.
        public var delay: Duration?
        /// Answer with this status instead of forwarding.
        public var abortStatus: Int?

        public init(delay: Duration? = nil, abortStatus: Int? = nil) {
            self.delay = delay
            self.abortStatus = abortStatus
        }

        public static let none = Decision()
        /// Envoy's response flags: DI for an injected delay, FI for an injected abort.
        public var responseFlags: [String] { (delay == nil ? [] : ["DI"]) + (abortStatus == nil ? [] : ["FI"]) }
    }

    public static func decide<R: RandomNumberGenerator>(_ request: HTTPRequestInfo, rules: [FaultRule],
                                                        using rng: inout R) -> Decision {
        guard let rule = rules.first(where: { $0.matches(request) }) else { return .none }
        var decision = Decision()
        if let delay = rule.delay, draw(delay.percentage, using: &rng) { decision.delay = delay.fixedDelay }
        if let abort = rule.abort, draw(abort.percentage, using: &rng) { decision.abortStatus = abort.httpStatus }
        return decision
    }

    /// True with probability percentage / 100.
    static func draw<R: RandomNumberGenerator>(_ percentage: Double, using rng: inout R) -> Bool {
        percentage >= 100 || (percentage > 0 && Double.random(in: 0..<100, using: &rng) < percentage)
    }
}

extension FaultRule {
    /// No matches: every request. Otherwise any match (each of whose
    /// conditions must hold); the URI is compared without the query string.
    public func matches(_ request: HTTPRequestInfo) -> Bool {
        matches.isEmpty || matches.contains { match in
            (match.uri?.matches(request.pathWithoutQuery) ?? true)
                && match.headers.allSatisfy { header in request.headers[header.name].map { header.value.matches($0) } ?? false }
        }
    }
}
