import FerryMesh
import Logging
import ServiceLifecycle
import Synchronization

/// The Kubernetes source: lists and watches the mesh's kinds from the API
/// server and publishes a new `MeshState` after changes, as the file source
/// does for a directory.
///
/// Nothing is published until every kind has been listed once: a state with
/// pods but not yet their AuthorizationPolicies would let through what the
/// policies deny. Bursts of changes (a relist, a rollout) are coalesced into one
/// state; a change that leaves the resources as they were (a pod's status, a
/// node heartbeat) publishes nothing.
public final class KubernetesSource: Service, Sendable {
    public struct Options: Sendable {
        /// Where the `ferry-mesh` ConfigMap lives.
        public var meshConfigNamespace: String
        /// Items per list page; nil lists in one request.
        public var pageSize: Int?
        /// How long to gather changes before building a state.
        public var coalesce: Duration
        /// Each watch asks for a random timeout in this range (seconds), so the
        /// agents of a cluster do not all reconnect at once.
        public var watchTimeoutSeconds: ClosedRange<Int>
        public var backoff: Backoff
        /// nil: `KubernetesKind.meshKinds`.
        public var kinds: [KubernetesKind]?

        public init(meshConfigNamespace: String = "ferry-system", pageSize: Int? = 500, coalesce: Duration = .milliseconds(100),
                    watchTimeoutSeconds: ClosedRange<Int> = 300...600, backoff: Backoff = Backoff(),
                    kinds: [KubernetesKind]? = nil) {
            self.meshConfigNamespace = meshConfigNamespace
            self.pageSize = pageSize
            self.coalesce = coalesce
            self.watchTimeoutSeconds = watchTimeoutSeconds
            self.backoff = backoff
            self.kinds = kinds
        }
    }

    private let client: KubernetesClient
    private let publish: @Sendable (MeshState) -> Void
    private let logger: Logger
    private let options: Options
    private let kinds: [KubernetesKind]
    private let cache: ResourceCache
    private let statusBoard: ReflectorStatusBoard
    private let published = Mutex<(state: MeshState?, resources: [LocatedResource])>((nil, []))
    private let lastProblems = Mutex<[ResourceError]>([])

    /// `node`: whose pods to watch (nil: every node's, for the CA).
    public init(client: KubernetesClient, node: String?, publish: @escaping @Sendable (MeshState) -> Void,
                logger: Logger, options: Options = Options()) {
        self.client = client
        self.publish = publish
        self.logger = logger
        self.options = options
        let all = options.kinds ?? KubernetesKind.meshKinds(node: node, meshConfigNamespace: options.meshConfigNamespace)
        for kind in all where !kind.isDecodable {
            logger.debug("not watching \(kind.name): FerryMesh does not decode it yet", metadata: ["ferry.kind": "\(kind.name)"])
        }
        kinds = all.filter(\.isDecodable)
        cache = ResourceCache(kinds: kinds.map(\.name), logger: logger)
        statusBoard = ReflectorStatusBoard(kinds: kinds.map(\.name))
    }

    /// The kinds being watched.
    public var watchedKinds: [String] { kinds.map(\.name) }

    /// Each kind's list+watch.
    public var status: [ReflectorStatus] { statusBoard.all }

    /// The last state published (nil before every kind was listed).
    public var state: MeshState? { published.withLock { $0.state } }

    /// Waits for the first state (nil when cancelled first): ferryd should not
    /// reconcile the data path from an empty state while the lists are running.
    public func firstState() async -> MeshState? {
        while !Task.isCancelled {
            if let state { return state }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Objects rejected now (each kept its previous good version, if any).
    public var problems: [ResourceError] { lastProblems.withLock { $0 } }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for kind in self.kinds {
                    let reflector = Reflector(kind: kind, client: self.client, cache: self.cache, status: self.statusBoard,
                                              settings: self.options, logger: self.logger)
                    group.addTask { await reflector.run() }
                }
                group.addTask { await self.publishChanges() }
            }
        }
    }

    private func publishChanges() async {
        for await _ in cache.changes {
            do { try await Task.sleep(for: options.coalesce) } catch { return }
            buildAndPublish()
        }
    }

    /// One state from the cache, published if it differs from the last.
    func buildAndPublish() {
        let snapshot = cache.snapshot()
        lastProblems.withLock { $0 = snapshot.problems }
        guard snapshot.synced else { return }
        let previous = published.withLock { $0 }
        if previous.state != nil && previous.resources == snapshot.resources { return }
        let generation = (previous.state?.generation ?? 0) + 1
        do {
            let state = try MeshState(resources: snapshot.resources, generation: generation)
            published.withLock { $0 = (state, snapshot.resources) }
            logger.info("mesh state built from the API server", metadata: [
                "ferry.generation": "\(generation)", "ferry.workloads": "\(state.workloads.count)",
                "ferry.services": "\(state.services.count)", "ferry.rejected": "\(snapshot.problems.count)",
            ])
            publish(state)
        } catch {
            // Only whole-set rules can fail here (one MeshConfig); the last state stays.
            logger.error("mesh state not built, the previous one stays in force: \(error)")
            lastProblems.withLock { $0.append(ResourceError(file: "api-server", line: 0, message: "\(error)")) }
        }
    }
}
