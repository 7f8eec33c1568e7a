import FerryMesh
import FerryPolicy
import FerryTelemetry
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// HTTP traffic management in the agent that captured the connection: it acts
/// as the destination's waypoint. Per request, in this order: fault injection,
/// HTTPRoute or GRPCRoute (match, weighted backend, filters), circuit breaking, endpoint
/// choice (DestinationRule load balancing, outlier ejection), the destination's
/// L7 AuthorizationPolicy and rate limit, the exchange with per-try timeout and
/// retries under a budget, the overall timeout, mirrors, then Istio request
/// metrics and one access-log line.
final class L7Proxy: Sendable {
    typealias Instant = ContinuousClock.Instant

    let context: ProxyContext
    let upstreams: UpstreamPool
    let metrics: HTTPMetrics
    private let routes = HTTPRouteTableCache()
    private let balancer = EndpointBalancer()
    private let inFlight = InFlightRequests()
    private let breakers = PerDestination<CircuitBreaker>()
    private let detectors = PerDestination<OutlierDetector<Instant>>()
    private let budgets = PerDestination<RetryBudget<Instant>>()
    private let rateLimiter = LocalRateLimiter<Instant>()

    init(context: ProxyContext, metrics: HTTPMetrics) {
        self.context = context
        self.metrics = metrics
        upstreams = UpstreamPool(context: context)
    }

    /// Who is asking, and for what.
    struct Caller: Sendable {
        var source: Workload
        var identity: SpiffeID
        var service: MeshService
        var port: ServicePort
        var record: ConnectionRecord
        var eventLoop: EventLoop
        var http2: Bool
    }

    /// What happened to a request, for metrics and the access log.
    struct Outcome: Sendable {
        var flags: ResponseFlags = .none
        /// Formatted only for the access log: most requests are never logged.
        var upstream: IPEndpoint?
        var destination: Workload?
        var policy: String?
    }

    func handle(_ request: ProxiedRequest, caller: Caller) async -> ProxiedResponse {
        let started = ContinuousClock.now
        let startedAt = Date()
        var outcome = Outcome()
        let state = context.store.state
        let incoming = request.head.headers.first(name: "traceparent").flatMap(TraceContext.init(traceparent:))
        // The trace id is kept and this hop gets a span id; a sampled request
        // also gets a span exported, when a collector is configured.
        let (span, trace) = context.tracer?.start("\(request.head.method.rawValue) \(caller.service.hostname())", parent: incoming)
            ?? (nil, incoming?.child() ?? .fresh())
        let traceparent = trace.traceparent
        var response = await route(request, caller: caller, state: state, traceparent: traceparent, outcome: &outcome)
        if response.isLocal && GRPC.isCall(request.head) { response = response.asGRPCCall() }
        response.head.headers.replaceOrAdd(name: "traceparent", value: traceparent)
        let finished = { @Sendable [response, outcome] (restBytes: Int) in
            var outcome = outcome
            // Cut off by a timeout mid-body: reported as Envoy does, UT.
            if response.rest?.expired == true { outcome.flags = .upstreamRequestTimeout }
            let trailers = response.rest.map { $0.trailers } ?? response.trailers
            self.report(request, response: response, responseBytes: response.body.readableBytes + restBytes,
                        grpcStatus: GRPC.status(head: response.head, trailers: trailers), caller: caller,
                        state: state, outcome: outcome, trace: trace, started: started, startedAt: startedAt)
            span?.end(status: Int(response.head.status.code), attributes: self.spanAttributes(request, caller: caller, outcome: outcome))
        }
        // A streamed body is reported when it ends: its size and duration are known then.
        if let rest = response.rest { rest.whenDone(finished) } else { finished(0) }
        return response
    }

    /// OpenTelemetry's HTTP attribute names, then Ferry's own.
    private func spanAttributes(_ request: ProxiedRequest, caller: Caller, outcome: Outcome) -> [(String, String)] {
        var attributes = [
            ("http.request.method", request.head.method.rawValue),
            ("url.path", String(request.head.uri.prefix { $0 != "?" })),
            ("server.address", request.head.headers.first(name: "host") ?? caller.service.hostname()),
            ("network.protocol.version", caller.http2 ? "2" : "1.1"),
            ("ferry.response_flags", outcome.flags.rawValue),
            ("ferry.source.principal", caller.identity.uri),
            ("ferry.destination.service", caller.service.hostname()),
        ]
        if let upstream = outcome.upstream { attributes.append(("network.peer.address", upstream.description)) }
        if let destination = outcome.destination { attributes.append(("ferry.destination.workload", destination.key)) }
        if let policy = outcome.policy { attributes.append(("ferry.policy", policy)) }
        return attributes
    }

    private func route(_ request: ProxiedRequest, caller: Caller, state: MeshState, traceparent: String,
                       outcome: inout Outcome) async -> ProxiedResponse {
        var rng = SplitMix64()
        let info = Self.requestInfo(request, caller: caller)
        let version = request.head.version
        let table = routes.table(for: state)

        let fault = FaultInjector.decide(info, rules: table.faults(for: caller.service), using: &rng)
        if let delay = fault.delay {
            try? await Task.sleep(for: delay)
            outcome.flags = .delayInjected
        }
        if let status = fault.abortStatus {
            outcome.flags = .faultInjected
            return .local(HTTPResponseStatus(statusCode: status), reason: "fault injected", version: version)
        }

        guard let decision = table.route(info, service: caller.service, port: caller.port.port,
                                         clientNamespace: caller.source.namespace, using: &rng) else {
            outcome.flags = .noRoute
            return .local(.notFound, reason: "no route rule matches", version: version)
        }
        guard let backend = decision.backend else {
            switch decision.action {
            case .respond(let status, let reason):
                return .local(HTTPResponseStatus(statusCode: status), reason: reason, version: version)
            case .redirect(let status, let location):
                var response = ProxiedResponse.redirect(HTTPResponseStatus(statusCode: status), to: location, version: version)
                Self.apply(decision.responseHeaders, to: &response.head.headers)
                return response
            case .forward:
                return .local(.internalServerError, reason: "no backend", version: version)
            }
        }

        let key = backend.destinationKey
        let now = ContinuousClock.now
        let breaker = breakers.value(for: key) { CircuitBreaker(limits: backend.policy.connectionPool) }
        breaker.update(limits: backend.policy.connectionPool)
        guard let requestPermit = breaker.acquire(.request) else {
            outcome.flags = .upstreamOverflow
            return .local(.serviceUnavailable, reason: "circuit breaker: too many requests to \(backend.service.key)", version: version)
        }
        // A streamed answer (a gRPC stream, a download) is a request in flight until its body ends.
        let heldRequest = HeldPermit(requestPermit)
        var streamedAnswer: BodyStream?
        defer { Self.afterBody(of: streamedAnswer) { heldRequest.release() } }
        let detector = backend.policy.outlierDetection.map { settings in
            let detector = detectors.value(for: key) { OutlierDetector(settings: settings) }
            detector.update(settings: settings)
            return detector
        }
        let budget = budgets.value(for: key) { RetryBudget(now: now) }
        budget.recordRequest(now: now)

        let endpoints = table.endpoints(of: backend, preferIPv4: true)
        guard !endpoints.isEmpty else {
            outcome.flags = .noHealthyUpstream
            return .local(.serviceUnavailable, reason: "no endpoint for \(backend.service.key)", version: version)
        }

        var upstreamRequest = request
        upstreamRequest.head.uri = decision.path
        upstreamRequest.head.headers.replaceOrAdd(name: "host", value: decision.authority)
        HopByHop.strip(&upstreamRequest.head.headers)
        Self.apply(decision.requestHeaders, to: &upstreamRequest.head.headers)
        upstreamRequest.head.headers.replaceOrAdd(name: "traceparent", value: traceparent)
        upstreamRequest.head.version = caller.http2 || backend.port.isHTTP2 ? .http2 : .http1_1

        // A streamed body is sent once, to one place.
        for mirror in decision.mirrors where request.rest == nil {
            mirrorRequest(upstreamRequest, to: mirror, table: table, caller: caller)
        }

        let attempts: @Sendable () async -> (ProxiedResponse, Outcome) = { [self, upstreamRequest] in
            await self.attempt(upstreamRequest, endpoints: endpoints, backend: backend, decision: decision, info: info,
                               caller: caller, breaker: breaker, detector: detector, budget: budget, state: state)
        }
        let finished: (ProxiedResponse, Outcome)?
        let deadline = Self.deadline(after: decision.timeouts.request)
        do {
            finished = try await withDeadline(decision.timeouts.request) {
                let result = await attempts()
                // Too late: the timeout answered. A streamed body nobody reads is closed.
                if Task.isCancelled { result.0.rest?.cancel() }
                return result
            }
        } catch {
            finished = nil
        }
        guard var (response, attemptOutcome) = finished else {
            outcome.flags = .upstreamRequestTimeout
            return .local(.gatewayTimeout, reason: "request timeout (\(decision.timeouts.request.map { "\($0)" } ?? "-"))", version: version)
        }
        if outcome.flags != .none && attemptOutcome.flags == .none { attemptOutcome.flags = outcome.flags }
        outcome = attemptOutcome
        Self.apply(decision.responseHeaders, to: &response.head.headers)
        streamedAnswer = response.rest
        if let rest = response.rest, let deadline { rest.expire(at: deadline, on: caller.eventLoop) }
        return response
    }

    /// Gateway API's timeouts run to the end of the response: a streamed
    /// body still coming at the deadline is cut off (Envoy resets the stream).
    private static func deadline(after timeout: Duration?) -> NIODeadline? {
        timeout.map { NIODeadline.now() + TimeAmount($0) }
    }

    /// Runs `release` once `rest` has ended, failed or been dropped; at once without one.
    private static func afterBody(of rest: BodyStream?, _ release: @escaping @Sendable () -> Void) {
        if let rest { rest.whenDone { _ in release() } } else { release() }
    }

    /// The retry loop: each attempt picks an endpoint, checks the destination's
    /// policy and rate limit, and exchanges within the per-try timeout.
    private func attempt(_ firstRequest: ProxiedRequest, endpoints: [UpstreamEndpoint], backend: RouteBackend,
                         decision: RouteDecision, info: HTTPRequestInfo, caller: Caller, breaker: CircuitBreaker,
                         detector: OutlierDetector<Instant>?, budget: RetryBudget<Instant>, state: MeshState) async -> (ProxiedResponse, Outcome) {
        var rng = SplitMix64()
        var outcome = Outcome()
        var request = firstRequest
        let version = request.head.version
        var retries = 0
        while true {
            // The overall deadline passed: its answer has gone out already.
            if Task.isCancelled { return (.local(.gatewayTimeout, reason: "request timeout", version: version), outcome) }
            let now = ContinuousClock.now
            guard let endpoint = balancer.pick(
                from: endpoints, policy: backend.policy.loadBalancer, destination: backend.destinationKey, request: info,
                isAvailable: { !(detector?.isEjected($0.key, now: now) ?? false) }, inFlight: { self.inFlight.count($0) },
                using: &rng)
            else {
                outcome.flags = .noHealthyUpstream
                return (.local(.serviceUnavailable, reason: "no healthy endpoint", version: version), outcome)
            }
            outcome.destination = endpoint.workload
            outcome.upstream = endpoint.address

            if let denial = authorize(info, endpoint: endpoint, caller: caller, state: state, outcome: &outcome) {
                return (denial, outcome)
            }
            if !rateLimiter.admit(endpoint.workload, in: state, now: now) {
                outcome.flags = .rateLimited
                return (.local(.tooManyRequests, reason: "local rate limit of \(endpoint.workload.key) exhausted", version: version,
                               extraHeaders: [("x-ferry-ratelimited", "true")]), outcome)
            }

            let result: UpstreamResult
            var response: ProxiedResponse?
            let inFlightPermit = HeldPermit(inFlight.begin(endpoint))
            // A connection counts against maxConnections while it is open.
            let admitConnection: UpstreamPool.ConnectionAdmission = {
                guard let permit = breaker.acquire(.connection) else { return nil }
                let held = HeldPermit(permit)
                return { held.release() }
            }
            let tryDeadline = Self.deadline(after: decision.timeouts.backendRequest)
            do {
                let route = upstreamRoute(endpoint, caller: caller, state: state, http2: backend.port.isHTTP2)
                response = try await withDeadline(decision.timeouts.backendRequest) { [request] in
                    let response = try await self.upstreams.exchange(request, route: route, admitConnection: admitConnection)
                    if Task.isCancelled { response.rest?.cancel() }
                    return response
                }
                if let rest = response?.rest, let tryDeadline { rest.expire(at: tryDeadline, on: caller.eventLoop) }
                result = response.map { .response(status: Int($0.head.status.code)) } ?? .timeout
            } catch UpstreamFailure.connectFailed {
                result = .connectFailure
            } catch UpstreamFailure.overflow {
                inFlightPermit.release()
                outcome.flags = .upstreamOverflow
                return (.local(.serviceUnavailable, reason: "circuit breaker: maxConnections", version: version), outcome)
            } catch UpstreamFailure.denied(let reason) {
                // The destination's own policy, applied by its agent: an answer, not a failure.
                inFlightPermit.release()
                outcome.flags = .deny
                return (.local(.forbidden, reason: reason, version: version), outcome)
            } catch UpstreamFailure.responseTooLarge(let limit) {
                // The upstream answered; Ferry cannot hold the answer. Not a retry or ejection case.
                inFlightPermit.release()
                return (.local(.badGateway, reason: "upstream response body over \(limit) bytes (Ferry holds whole bodies)", version: version),
                        outcome)
            } catch {
                result = .reset
            }
            Self.afterBody(of: response?.rest) { inFlightPermit.release() }
            _ = detector?.record(result, for: endpoint.key, poolSize: endpoints.count, now: ContinuousClock.now)

            // A streamed body that has ended within the collected size is sent again whole.
            let replay = decision.retry == nil ? nil : request.replayable()
            if let retry = decision.retry, let replay,
               case .retry(let delay) = retry.decide(after: result, retriesSoFar: retries, requestBodyBytes: replay.bodySize,
                                                     budget: budget, now: ContinuousClock.now, using: &rng),
               let retryPermit = breaker.acquire(.retry) {
                retries += 1
                request = replay
                response?.rest?.cancel()
                try? await Task.sleep(for: delay)
                retryPermit.release()
                continue
            }
            if let response { return (response, outcome) }
            switch result {
            case .connectFailure:
                outcome.flags = .upstreamConnectionFailure
                return (.local(.serviceUnavailable, reason: "upstream connect failure", version: version), outcome)
            case .timeout:
                outcome.flags = .upstreamRequestTimeout
                return (.local(.gatewayTimeout, reason: "upstream per-try timeout", version: version), outcome)
            default:
                outcome.flags = .upstreamReset
                return (.local(.serviceUnavailable, reason: "upstream reset", version: version), outcome)
            }
        }
    }

    /// The destination workload's AuthorizationPolicy with the request's HTTP
    /// attributes; a 403 when it denies.
    private func authorize(_ info: HTTPRequestInfo, endpoint: UpstreamEndpoint, caller: Caller, state: MeshState,
                           outcome: inout Outcome) -> ProxiedResponse? {
        let request = AuthorizationRequest(
            destination: endpoint.workload, destinationIP: endpoint.address.ip, destinationPort: endpoint.address.port,
            source: caller.identity, sourceIP: info.sourceIP,
            http: HTTPRequestAttributes(host: info.host, method: info.method, path: String(info.pathWithoutQuery), headers: info.headers)
        )
        let decision = InboundAuthorization.decide(request, state: state, context: context)
        guard !decision.allowed else { return nil }
        outcome.flags = .deny
        outcome.policy = decision.policy?.description
        return .local(.forbidden, reason: decision.reason)
    }

    private func upstreamRoute(_ endpoint: UpstreamEndpoint, caller: Caller, state: MeshState, http2: Bool) -> UpstreamPool.Route {
        let node = endpoint.workload.node
        let agent = node.flatMap { state.nodes[$0]?.agentAddress }.map { IPEndpoint(ip: $0, port: 15008) }
        return UpstreamPool.Route(key: .init(address: endpoint.address, http2: http2), node: node, agent: agent,
                                  source: caller.source, sourceIdentity: caller.identity, eventLoop: caller.eventLoop)
    }

    /// For an Upgrade (WebSocket): routes the request like any other, checks the
    /// destination's policy, opens a raw stream to the endpoint and sends the
    /// request head on it. The caller splices the rest.
    func openUpgrade(_ request: ProxiedRequest, caller: Caller) async throws -> Channel {
        let state = context.store.state
        var rng = SplitMix64()
        let info = Self.requestInfo(request, caller: caller)
        let table = routes.table(for: state)
        guard let decision = table.route(info, service: caller.service, port: caller.port.port,
                                         clientNamespace: caller.source.namespace, using: &rng),
              let backend = decision.backend,
              let endpoint = balancer.pick(from: table.endpoints(of: backend), policy: backend.policy.loadBalancer,
                                           destination: backend.destinationKey, request: info, using: &rng)
        else { throw UpstreamFailure.connectFailed("no route for the upgrade") }
        var outcome = Outcome()
        if authorize(info, endpoint: endpoint, caller: caller, state: state, outcome: &outcome) != nil {
            throw UpstreamFailure.connectFailed("denied by policy")
        }
        var head = request.head
        head.uri = decision.path
        head.headers.replaceOrAdd(name: "host", value: decision.authority)
        let route = upstreamRoute(endpoint, caller: caller, state: state, http2: false)
        // Hold the endpoint's answer until the splice is in place.
        let channel = try await upstreams.transport(route) { try $0.pipeline.syncOperations.addHandler(InboundHold()) }
        try await Upgrade.send(head, on: channel)
        return channel
    }

    /// A copy to a mirror backend; its answer is dropped.
    private func mirrorRequest(_ request: ProxiedRequest, to backend: RouteBackend, table: HTTPRouteTable, caller: Caller) {
        var rng = SplitMix64()
        let state = table.state
        guard let endpoint = table.endpoints(of: backend).randomElement(using: &rng) else { return }
        var copy = request
        if let host = copy.head.headers.first(name: "host") { copy.head.headers.replaceOrAdd(name: "host", value: host + "-shadow") }
        let route = upstreamRoute(endpoint, caller: caller, state: state, http2: backend.port.isHTTP2)
        Task { (try? await self.upstreams.exchange(copy, route: route) { {} })?.rest?.cancel() }
    }

    static func requestInfo(_ request: ProxiedRequest, caller: Caller) -> HTTPRequestInfo {
        requestInfo(request, defaultAuthority: caller.service.hostname(),
                    sourceIP: caller.source.addresses.first)
    }

    /// The request as routing and policy read it: headers lower-cased (repeats
    /// joined by commas), the authority from Host or :authority.
    static func requestInfo(_ request: ProxiedRequest, defaultAuthority: @autoclosure () -> String,
                            sourceIP: IPAddress?) -> HTTPRequestInfo {
        var headers: [String: String] = [:]
        for (name, value) in request.head.headers {
            let lower = name.lowercased()
            headers[lower] = headers[lower].map { $0 + "," + value } ?? value
        }
        return HTTPRequestInfo(
            method: request.head.method.rawValue, path: request.head.uri,
            authority: headers["host"] ?? headers[":authority"] ?? defaultAuthority(), headers: headers,
            sourceIP: sourceIP
        )
    }

    /// Header edits in order (the rule's, then the backendRef's), each as
    /// `HeaderModifier` defines them: removals, then `set`, then `add`.
    static func apply(_ modifiers: [HeaderModifier], to headers: inout HTTPHeaders) {
        for modifier in modifiers {
            for name in modifier.remove { headers.remove(name: name) }
            for field in modifier.set { headers.replaceOrAdd(name: field.name, value: field.value) }
            for field in modifier.add { headers.add(name: field.name, value: field.value) }
        }
    }

    private func report(_ request: ProxiedRequest, response: ProxiedResponse, responseBytes: Int, grpcStatus: String?,
                        caller: Caller, state: MeshState,
                        outcome: Outcome, trace: TraceContext, started: ContinuousClock.Instant, startedAt: Date) {
        let elapsed = (ContinuousClock.now - started).seconds * 1000
        var labels = caller.record.labels
        labels.requestProtocol = GRPC.isCall(request.head) ? "grpc" : "http"
        labels.responseFlags = outcome.flags
        if let destination = outcome.destination {
            labels.describeDestination(destination, service: caller.service, state: state)
        }
        let status = Int(response.head.status.code)
        let messages = labels.requestProtocol != "grpc" ? nil : (
            request: request.rest?.gRPCMessages ?? GRPCMessageCounter.count(request.body),
            response: response.rest?.gRPCMessages ?? GRPCMessageCounter.count(response.body)
        )
        metrics.record(.init(traffic: labels, responseCode: status, grpcStatus: grpcStatus ?? ""), durationMilliseconds: elapsed,
                       requestBytes: request.receivedBodyBytes, responseBytes: responseBytes, grpcMessages: messages)
        caller.record.requests.wrappingAdd(1, ordering: .relaxed)
        guard context.accessLog.isEnabled else { return }
        context.accessLog.log([
            "type": "request",
            "start_time": .string(startedAt.rfc3339),
            "method": .string(request.head.method.rawValue),
            "authority": .string(request.head.headers.first(name: "host") ?? caller.service.hostname()),
            "path": .string(request.head.uri),
            "protocol": .string(caller.http2 ? "HTTP/2" : "HTTP/1.1"),
            "response_code": .int(Int64(status)),
            "duration_ms": .double((elapsed * 1000).rounded() / 1000),
            "upstream": .string(outcome.upstream?.description ?? "-"),
            "response_flags": .string(outcome.flags.rawValue),
            "trace_id": .string(trace.traceID),
            "src_identity": .string(caller.identity.uri),
            "dst_workload": AccessLogValue(outcome.destination?.key),
            "dst_service": .string(caller.service.hostname()),
            "policy": AccessLogValue(outcome.policy),
        ])
    }
}
