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
        kinds.withLock { all in
            var previous = all[kind.name]?.entries ?? [:]
            var next: [ObjectKey: Entry] = [:]
            for (key, outcome) in decoded {
                if let entry = entry(for: outcome, replacing: previous.removeValue(forKey: key), kind: kind, key: key) {
                    next[key] = entry
                }
            }
            all[kind.name] = KindCache(entries: next, synced: true)
        }
        signal.yield()
    }

    func upsert(_ kind: KubernetesKind, _ object: APIObject) {
        let key = object.key
        let outcome = decode(kind, object)
        let changed = kinds.withLock { all in
            let old = all[kind.name]?.entries[key]
            let new = entry(for: outcome, replacing: old, kind: kind, key: key)
            all[kind.name, default: KindCache()].entries[key] = new
            return old?.resource != new?.resource
        }
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
    private func entry(for outcome: Outcome, replacing old: Entry?, kind: KubernetesKind, key: ObjectKey) -> Entry? {
        switch outcome {
        case .resource(let resource):
            return Entry(resource: resource, problem: nil)
        case .irrelevant:
            return nil
        case .bad(let problem):
            if old?.problem != problem {
                logger.error("\(kind.name) \(key) rejected: \(problem.message)\(old?.resource != nil ? " (its previous version stays in force)" : "")",
                             metadata: ["ferry.kind": "\(kind.name)", "ferry.object": "\(key)"])
            }
            return Entry(resource: old?.resource, problem: problem)
        }
    }
}
