import FerryMesh
import Synchronization

/// Istio outlier detection for one destination: endpoints that fail in a row
/// are taken out of load balancing for a while.
///
/// - Counting: each endpoint counts consecutive server errors (5xx, connect
///   failures, resets, timeouts) and consecutive gateway errors (502, 503,
///   504 and the same failures). Any other result resets the count it breaks.
/// - Ejection is decided on each result, as soon as a count reaches its
///   threshold (as Envoy does for consecutive errors), not on interval ticks.
///   It lasts baseEjectionTime × the endpoint's ejection count, at most 300 s
///   (Envoy's max_ejection_time default) or baseEjectionTime if longer.
/// - The cap: an ejection that would put more than maxEjectionPercent of the
///   pool out at once does not happen. (So with Istio's default 10%, pools of
///   fewer than ten endpoints never eject; Istio's examples set 100.)
/// - Readmission is checked on every query: an endpoint is back as soon as its
///   time has passed. `tick(now:)`, called every `interval`, ages the
///   ejection counts: an endpoint that stayed in for a whole interval has its
///   count lowered by one, so occasional failures do not compound forever.
/// - minHealthPercent: when fewer than that share of the pool is healthy,
///   `available` ignores ejections (Istio's panic threshold).
public final class OutlierDetector<Instant: InstantProtocol<Duration>>: Sendable {
    public enum Event: Sendable, Equatable {
        case ejected(until: Instant, count: Int)
        /// The threshold was reached but the cap left the endpoint in.
        case capped
    }

    static var maxEjectionTime: Duration { .seconds(300) }

    private struct Host {
        var consecutiveServerErrors = 0
        var consecutiveGatewayErrors = 0
        var ejections = 0
        var ejectedUntil: Instant?
        /// When the endpoint last came back (or first failed), for aging.
        var inSince: Instant?
    }

    private struct State {
        var settings: OutlierDetectionSettings
        var hosts: [String: Host] = [:]

        func isEjected(_ key: String, now: Instant) -> Bool {
            guard let until = hosts[key]?.ejectedUntil else { return false }
            return now < until
        }

        func ejectedCount(now: Instant) -> Int {
            hosts.values.count { host in host.ejectedUntil.map { now < $0 } ?? false }
        }
    }

    private let state: Mutex<State>

    public init(settings: OutlierDetectionSettings) {
        state = Mutex(State(settings: settings))
    }

    /// New thresholds apply from the next result; counts and ejections stay.
    public func update(settings: OutlierDetectionSettings) {
        state.withLock { $0.settings = settings }
    }

    /// Records how an attempt to `endpoint` (its `key`) ended. `poolSize` is the
    /// number of endpoints the destination has now.
    @discardableResult
    public func record(_ result: UpstreamResult, for endpoint: String, poolSize: Int, now: Instant) -> Event? {
        state.withLock { state in
            // Results from an ejected endpoint (reached only when too few are
            // healthy) do not count: it starts afresh when it is back.
            guard !state.isEjected(endpoint, now: now) else { return nil }
            var host = state.hosts[endpoint] ?? Host()
            defer { state.hosts[endpoint] = host }
            host.consecutiveServerErrors = result.isServerError ? host.consecutiveServerErrors + 1 : 0
            host.consecutiveGatewayErrors = result.isGatewayError ? host.consecutiveGatewayErrors + 1 : 0
            if host.inSince == nil { host.inSince = now }
            let settings = state.settings
            let tripped = (settings.consecutive5xxErrors > 0 && host.consecutiveServerErrors >= settings.consecutive5xxErrors)
                || (settings.consecutiveGatewayErrors > 0 && host.consecutiveGatewayErrors >= settings.consecutiveGatewayErrors)
            guard tripped else { return nil }
            let wouldBeOut = state.ejectedCount(now: now) + 1
            guard poolSize > 0, wouldBeOut * 100 <= settings.maxEjectionPercent * poolSize else { return .capped }
            host.ejections += 1
            let length = min(settings.baseEjectionTime * host.ejections, max(Self.maxEjectionTime, settings.baseEjectionTime))
            let until = now.advanced(by: length)
            host.ejectedUntil = until
            host.consecutiveServerErrors = 0
            host.consecutiveGatewayErrors = 0
            host.inSince = until
            return .ejected(until: until, count: host.ejections)
        }
    }

    public func isEjected(_ endpoint: String, now: Instant) -> Bool {
        state.withLock { $0.isEjected(endpoint, now: now) }
    }

    /// The endpoints to balance over: those not ejected, or all of them when
    /// too few are healthy (below minHealthPercent, or none at all).
    public func available(_ endpoints: [UpstreamEndpoint], now: Instant) -> [UpstreamEndpoint] {
        state.withLock { state in
            let healthy = endpoints.filter { !state.isEjected($0.key, now: now) }
            if healthy.isEmpty || healthy.count * 100 < state.settings.minHealthPercent * endpoints.count { return endpoints }
            return healthy
        }
    }

    /// The interval sweep: an endpoint in service for a whole interval has its
    /// ejection count lowered by one; hosts with nothing left to remember are
    /// forgotten.
    public func tick(now: Instant) {
        state.withLock { state in
            let interval = state.settings.interval
            for (key, var host) in state.hosts {
                if state.isEjected(key, now: now) { continue }
                if let since = host.inSince, since.advanced(by: interval) <= now, host.ejections > 0 {
                    host.ejections -= 1
                    host.inSince = now
                }
                if host.ejections == 0 && host.consecutiveServerErrors == 0 && host.consecutiveGatewayErrors == 0 {
                    state.hosts[key] = nil
                } else {
                    state.hosts[key] = host
                }
            }
        }
    }

    /// How many times the endpoint has been ejected, as aged by `tick`.
    public func ejectionCount(_ endpoint: String) -> Int {
        state.withLock { $0.hosts[endpoint]?.ejections ?? 0 }
    }
}
