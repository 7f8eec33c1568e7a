/// The list-then-watch protocol for one kind, without I/O: `Reflector` performs
/// the `step` and reports what happened; each report returns what to do with
/// the cache.
///
/// - A full list (in pages of `pageSize`, following `continue`) replaces the
///   cache, then a watch starts from the list's resourceVersion.
/// - Every event moves the resourceVersion forward (bookmarks too), so a watch
///   that times out or drops resumes where it stopped, missing nothing.
/// - 410 Gone (the version or continue token is older than the server keeps)
///   means relist. If a continue token expired, later lists are not paginated,
///   as the API documents.
/// - Failures back off (`failures` counts them), except after a watch that did
///   useful work, which resumes at once.
struct ReflectorStateMachine: Sendable {
    enum Step: Sendable, Equatable {
        case list(continueToken: String?, limit: Int?)
        case watch(resourceVersion: String)
        /// Back off: wait the failure count's delay, then call `waited()`.
        case wait(failures: Int)
    }

    enum Failure: Sendable, Equatable {
        /// 410: relist.
        case gone
        /// 404 on the collection: the kind is not served (no CRD).
        case notServed
        /// Anything else: connection refused or reset, 5xx, 401, bad JSON.
        case other
    }

    enum PageAction: Sendable {
        case fetchNext
        /// The list is complete: replace the cache with these objects.
        case replace([APIObject], resourceVersion: String)
    }

    enum ListFailureAction: Sendable, Equatable {
        case retry
        /// The kind is not served: the cache is empty (and counts as synced).
        case markNotServed
    }

    enum EventAction: Sendable {
        case upsert(APIObject)
        case delete(APIObject)
        case none
        /// This watch is over (an ERROR event); `step` says what is next.
        case stopWatch(APIStatus?)
    }

    private enum State: Sendable {
        case listing(continueToken: String?, items: [APIObject])
        case watching(resourceVersion: String)
        case waiting(then: Resume)
    }

    private enum Resume: Sendable {
        case list
        case watch(String)
    }

    private var state: State = .listing(continueToken: nil, items: [])
    /// Failures since the last watch that did useful work. A list alone does not
    /// reset it, so list → watch → 410 → list… cannot spin without waiting.
    private(set) var failures = 0
    private(set) var paginate: Bool
    let pageSize: Int?

    init(pageSize: Int?) {
        self.pageSize = pageSize
        paginate = pageSize != nil
    }

    var step: Step {
        switch state {
        case .listing(let token, _): .list(continueToken: token, limit: paginate ? pageSize : nil)
        case .watching(let version): .watch(resourceVersion: version)
        case .waiting: .wait(failures: failures)
        }
    }

    /// The version a watch would resume from.
    var resourceVersion: String? {
        switch state {
        case .watching(let version), .waiting(.watch(let version)): version
        default: nil
        }
    }

    mutating func pageReceived(_ page: ListPage) -> PageAction {
        guard case .listing(_, var items) = state else { preconditionFailure("page outside a list") }
        items += page.items
        if let token = page.continueToken {
            state = .listing(continueToken: token, items: items)
            return .fetchNext
        }
        state = .watching(resourceVersion: page.resourceVersion)
        return .replace(items, resourceVersion: page.resourceVersion)
    }

    mutating func listFailed(_ failure: Failure) -> ListFailureAction {
        guard case .listing(let token, _) = state else { preconditionFailure("list failure outside a list") }
        failures += 1
        switch failure {
        case .gone where token != nil:
            // The continue token expired: start over, in one request.
            paginate = false
            state = failures == 1 ? .listing(continueToken: nil, items: []) : .waiting(then: .list)
            return .retry
        case .notServed:
            state = .waiting(then: .list)
            return .markNotServed
        case .gone, .other:
            state = .waiting(then: .list)
            return .retry
        }
    }

    mutating func eventReceived(_ event: WatchEvent) -> EventAction {
        guard case .watching(let current) = state else { preconditionFailure("event outside a watch") }
        if event.type == .error {
            let status = event.status
            failures += 1
            if status?.code == 410 {
                relistAfterGone()
            } else {
                state = .waiting(then: .watch(current))
            }
            return .stopWatch(status)
        }
        failures = 0
        if let version = event.object.resourceVersion, !version.isEmpty {
            state = .watching(resourceVersion: version)
        }
        switch event.type {
        case .added, .modified: return .upsert(event.object)
        case .deleted: return .delete(event.object)
        case .bookmark, .error: return .none
        }
    }

    /// The watch request ended: cleanly (`failure` nil) or not. `productive`: it
    /// delivered events or stayed open a while, so resuming at once is safe.
    mutating func watchEnded(_ failure: Failure?, productive: Bool) {
        guard case .watching(let version) = state else { preconditionFailure("watch end outside a watch") }
        switch failure {
        case .gone?:
            failures += 1
            relistAfterGone()
        case .notServed?:
            failures += 1
            state = .waiting(then: .list)
        case .other?, nil:
            if productive {
                failures = 0
                state = .watching(resourceVersion: version)
            } else {
                failures += 1
                state = .waiting(then: .watch(version))
            }
        }
    }

    mutating func waited() {
        guard case .waiting(let resume) = state else { preconditionFailure("waited without waiting") }
        switch resume {
        case .list: state = .listing(continueToken: nil, items: [])
        case .watch(let version): state = .watching(resourceVersion: version)
        }
    }

    /// The first 410 relists at once; another before any watch succeeded waits.
    private mutating func relistAfterGone() {
        state = failures == 1 ? .listing(continueToken: nil, items: []) : .waiting(then: .list)
    }
}
