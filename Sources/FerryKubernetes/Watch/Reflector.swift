import AsyncHTTPClient
import Logging

/// Runs one kind's `ReflectorStateMachine` against the API server and feeds
/// the cache, until cancelled.
struct Reflector: Sendable {
    let kind: KubernetesKind
    let client: KubernetesClient
    let cache: ResourceCache
    let status: ReflectorStatusBoard
    let settings: KubernetesSource.Options
    let logger: Logger

    /// A watch that lasted this long was worth having: resume it at once.
    static let productiveWatch: Duration = .seconds(1)

    func run() async {
        var machine = ReflectorStateMachine(pageSize: settings.pageSize)
        var random = SystemRandomNumberGenerator()
        var lastProblem: String?
        var logger = logger
        logger[metadataKey: "ferry.kind"] = "\(kind.name)"

        func failed(_ error: any Error, while doing: String) -> ReflectorStateMachine.Failure {
            let problem = "\(doing) \(kind.resource): \(error)"
            status.update(kind.name) { $0.lastError = problem }
            if problem != lastProblem {
                logger.warning("\(problem)")
                lastProblem = problem
            }
            return Self.classify(error)
        }

        func recovered() {
            guard lastProblem != nil else { return }
            logger.info("\(kind.resource) reachable again")
            lastProblem = nil
            status.update(kind.name) { $0.lastError = nil }
        }

        while !Task.isCancelled {
            switch machine.step {
            case .list(let token, let limit):
                do {
                    let page = try await client.list(kind.resource, selectors: kind.selectors, limit: limit, continueToken: token)
                    guard case .replace(let items, let version) = machine.pageReceived(page) else { continue }
                    cache.replace(kind, with: items)
                    status.update(kind.name) {
                        $0.lists += 1
                        $0.synced = true
                        $0.served = true
                        $0.resourceVersion = version
                    }
                    logger.debug("listed", metadata: ["ferry.objects": "\(items.count)", "ferry.resourceVersion": "\(version)"])
                    recovered()
                } catch {
                    if Task.isCancelled { return }
                    let failure = failed(error, while: "list")
                    if failure == .gone { status.update(kind.name) { $0.gone += 1 } }
                    if machine.listFailed(failure) == .markNotServed {
                        cache.replace(kind, with: [])
                        status.update(kind.name) {
                            $0.synced = true
                            $0.served = false
                        }
                    }
                }

            case .watch(let version):
                let started = ContinuousClock.now
                var delivered = 0
                status.update(kind.name) { $0.watchesStarted += 1 }
                do {
                    let end = try await client.watch(
                        kind.resource, selectors: kind.selectors, resourceVersion: version,
                        timeoutSeconds: Int.random(in: settings.watchTimeoutSeconds, using: &random)
                    ) { event in
                        delivered += 1
                        if delivered == 1 { recovered() }
                        let action = machine.eventReceived(event)
                        status.update(kind.name) {
                            $0.events += 1
                            if event.type == .bookmark { $0.bookmarks += 1 }
                            $0.resourceVersion = machine.resourceVersion ?? $0.resourceVersion
                        }
                        switch action {
                        case .upsert(let object): cache.upsert(kind, object)
                        case .delete(let object): cache.delete(kind, object)
                        case .none: break
                        case .stopWatch(let apiStatus):
                            let gone = apiStatus?.code == 410
                            status.update(kind.name) { if gone { $0.gone += 1 } }
                            let text = "watch \(kind.resource) from \(version) ended by the server: \(apiStatus?.description ?? "ERROR event")"
                            if gone { logger.info("\(text); relisting") } else { logger.warning("\(text)") }
                            return .stop
                        }
                        return .proceed
                    }
                    if end == .closedByServer {
                        machine.watchEnded(nil, productive: delivered > 0 || ContinuousClock.now - started >= Self.productiveWatch)
                    }
                } catch {
                    if Task.isCancelled { return }
                    let failure = failed(error, while: "watch")
                    if failure == .gone { status.update(kind.name) { $0.gone += 1 } }
                    machine.watchEnded(failure, productive: delivered > 0 || ContinuousClock.now - started >= Self.productiveWatch)
                }

            case .wait(let failures):
                do {
                    try await Task.sleep(for: settings.backoff.delay(afterFailures: failures, using: &random))
                } catch {
                    return
                }
                machine.waited()
            }
        }
    }

    static func classify(_ error: any Error) -> ReflectorStateMachine.Failure {
        guard let error = error as? APIError else { return .other }
        if error.isGone { return .gone }
        if error.isNotFound { return .notServed }
        return .other
    }
}
