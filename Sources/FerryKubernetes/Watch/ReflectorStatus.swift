import Synchronization

/// How one kind's list+watch is doing, for the admin API, logs and tests.
public struct ReflectorStatus: Sendable, Hashable {
    public var kind: String
    /// Where the next watch resumes.
    public var resourceVersion: String?
    /// A full list has arrived at least once.
    public var synced = false
    /// false while the collection answers 404 (its CRD is not installed).
    public var served = true
    /// Complete lists (the first, then every relist).
    public var lists = 0
    /// 410 Gone answers and ERROR events.
    public var gone = 0
    public var watchesStarted = 0
    public var events = 0
    public var bookmarks = 0
    public var lastError: String?

    public init(kind: String) {
        self.kind = kind
    }
}

/// Every reflector's status, shared with whoever reports it.
final class ReflectorStatusBoard: Sendable {
    private let statuses: Mutex<[String: ReflectorStatus]>

    init(kinds: [String]) {
        statuses = Mutex(Dictionary(uniqueKeysWithValues: kinds.map { ($0, ReflectorStatus(kind: $0)) }))
    }

    func update(_ kind: String, _ change: (inout ReflectorStatus) -> Void) {
        statuses.withLock { change(&$0[kind, default: ReflectorStatus(kind: kind)]) }
    }

    var all: [ReflectorStatus] { statuses.withLock { $0.values.sorted { $0.kind < $1.kind } } }
}
