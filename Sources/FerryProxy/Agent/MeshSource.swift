import FerryMesh
import ServiceLifecycle

/// Where the agent's mesh state comes from: the file source (`ConfigWatcher`)
/// or the Kubernetes API (wired in ferryd). A source publishes each new valid
/// state to the agent's `StateStore`; until the first one arrives the store is
/// at generation 0 and the data path is left as it is.
public protocol MeshSource: Service {
    /// Loads what can be loaded at once, before the agent starts its services.
    func prime()
    /// Objects currently rejected, one line each ("file:line: reason").
    var problems: [String] { get }
    /// Reloads since start, for `ferry_config_reloads_total`.
    var reloadCounts: (success: Int, failure: Int) { get }
}

extension ConfigWatcher: MeshSource {
    public func prime() { reloadNow() }
    public var problems: [String] { currentErrors.withLock { $0 }.map(\.description) }
    public var reloadCounts: (success: Int, failure: Int) { reloads.withLock { $0 } }
}
