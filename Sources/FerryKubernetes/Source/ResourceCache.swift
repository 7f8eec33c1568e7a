import FerryMesh
import Logging
import Synchronization

/// What the source knows, per kind and object, already decoded. Objects are
/// decoded once, when they arrive, not every time a state is built.
///
/// A bad object is logged with kind, namespace and name and skipped; if an
/// earlier version of it was good, that version stays in force (as a bad file
/// keeps its last good contents in the file source), so a typo in an update
/// never drops a policy or unenrolls a workload.
final class ResourceCache: Sendable {
    struct Entry: Sendable {
        var resource: Resource?
        var problem: ResourceError?
    }

    struct KindCache: Sendable {
        var entries: [ObjectKey: Entry] = [:]
        /// A full list arrived (or the kind is not served).
        var synced = false
    }

    struct Snapshot: Sendable {
        /// Sorted by key.
        var resources: [LocatedResource]
        /// Every kind listed at least once.
        var synced: Bool
        var problems: [ResourceError]
    }

    private let kinds: Mutex<[String: KindCache]>
    private let signal: AsyncStream<Void>.Continuation
    /// One element after any change; a burst of changes is one element.
    let changes: AsyncStream<Void>
    private let logger: Logger

    init(kinds names: [String], logger: Logger) {
        kinds = Mutex(Dictionary(uniqueKeysWithValues: names.map { ($0, KindCache()) }))
        (changes, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.logger = logger
    }

    func finish() { signal.finish() }

    /// The result of a full list: objects missing from it are gone.
    func replace(_ kind: KubernetesKind, with objects: [APIObject]) {
        let decoded = objects.map { ($0.key, decode(kind, $0)) }
        let rejected = kinds.withLock { all in
            var previous = all[kind.name]?.entries ?? [:]
            var next: [ObjectKey: Entry] = [:]
            var rejected: [Rejection] = []
            for (key, outcome) in decoded {
                let old = previous.removeValue(forKey: key)
                next[key] = entry(for: outcome, replacing: old)
                if let rejection = Rejection(outcome, replacing: old) { rejected.append(rejection) }
            }
            all[kind.name] = KindCache(entries: next, synced: true)
            return rejected
        }
        for rejection in rejected { log(rejection, kind: kind) }
        signal.yield()
    }

    func upsert(_ kind: KubernetesKind, _ object: APIObject) {
        let outcome = decode(kind, object)
        let (changed, rejection) = kinds.withLock { all in
            let old = all[kind.name]?.entries[object.key]
            let new = entry(for: outcome, replacing: old)
            all[kind.name, default: KindCache()].entries[object.key] = new
            return (old?.resource != new?.resource, Rejection(outcome, replacing: old))
        }
        if let rejection { log(rejection, kind: kind) }
        if changed { signal.yield() }
    }

    func delete(_ kind: KubernetesKind, _ object: APIObject) {
        let changed = kinds.withLock { all in
            all[kind.name]?.entries.removeValue(forKey: object.key)?.resource != nil
        }
        if changed { signal.yield() }
    }

    func snapshot() -> Snapshot {
        kinds.withLock { all in
            var resources: [LocatedResource] = []
            var problems: [ResourceError] = []
            for (name, cache) in all {
                let file = "api-server \(name)"
                for entry in cache.entries.values {
                    if let resource = entry.resource { resources.append(LocatedResource(resource: resource, file: file, line: 0)) }
                    if let problem = entry.problem { problems.append(problem) }
                }
            }
            resources.sort { $0.resource.key < $1.resource.key }
            problems.sort { $0.description < $1.description }
            return Snapshot(resources: resources, synced: all.values.allSatisfy(\.synced), problems: problems)
        }
    }

    private enum Outcome {
        case resource(Resource)
        case irrelevant
        case bad(ResourceError)
    }

    private func decode(_ kind: KubernetesKind, _ object: APIObject) -> Outcome {
        do {
            return try kind.convert(object).map { .resource($0) } ?? .irrelevant
        } catch let error as ResourceError {
            return .bad(ResourceError(file: "\(kind.name) \(object.key)", line: 0, message: error.message))
        } catch {
            return .bad(ResourceError(file: "\(kind.name) \(object.key)", line: 0, message: "\(error)"))
        }
    }

    /// The entry an outcome leaves; nil removes the object.
    private func entry(for outcome: Outcome, replacing old: Entry?) -> Entry? {
        switch outcome {
        case .resource(let resource): Entry(resource: resource, problem: nil)
        case .irrelevant: nil
        case .bad(let problem): Entry(resource: old?.resource, problem: problem)
        }
    }

    /// A newly rejected object, to log once (not again while it stays the same).
    private struct Rejection {
        var problem: ResourceError
        var keptPrevious: Bool

        init?(_ outcome: Outcome, replacing old: Entry?) {
            guard case .bad(let problem) = outcome, old?.problem != problem else { return nil }
            self.problem = problem
            keptPrevious = old?.resource != nil
        }
    }

    private func log(_ rejection: Rejection, kind: KubernetesKind) {
        logger.error("\(rejection.problem.file) rejected: \(rejection.problem.message)\(rejection.keptPrevious ? " (its previous version stays in force)" : "")",
                     metadata: ["ferry.kind": "\(kind.name)"])
    }
}
