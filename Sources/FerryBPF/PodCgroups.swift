import Foundation

/// How the kubelet names cgroups, which depends on its cgroup driver.
public enum CgroupDriver: String, Sendable, Hashable {
    /// `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _>.slice`
    case systemd
    /// `kubepods/burstable/pod<uid>`
    case cgroupfs
}

/// A pod's QoS class: Guaranteed pods sit directly under the kubepods root.
public enum PodQOSClass: String, Sendable, Hashable, CaseIterable {
    case guaranteed
    case burstable
    case besteffort
}

/// A pod's cgroup on this node and its containers' cgroups inside it.
public struct PodCgroup: Sendable, Hashable {
    public var uid: String
    /// Relative to the cgroup2 mount, starting with "/": what `Workload.cgroup` holds.
    public var path: String
    public var driver: CgroupDriver
    public var qos: PodQOSClass
    public var containers: [ContainerCgroup]
}

/// A container's cgroup, as containerd or CRI-O names it.
public struct ContainerCgroup: Sendable, Hashable {
    public enum Runtime: String, Sendable, Hashable {
        case containerd
        case crio
    }

    public var id: String
    public var runtime: Runtime
    /// Relative to the cgroup2 mount.
    public var path: String
}

/// Finds pods' cgroups from their UIDs under the kubelet's kubepods roots.
///
/// The roots are found rather than assumed: `/kubepods.slice` (systemd driver),
/// `/kubepods` (cgroupfs), or deeper when the kubelet has a cgroup root of its
/// own (kind nests `/kubelet.slice/kubelet-kubepods.slice`).
public struct PodCgroupLocator: Sendable {
    /// The cgroup2 mount point.
    public let mount: String
    /// kubepods roots, relative to the mount.
    public let roots: [String]

    public init(mount: String, roots: [String]) {
        self.mount = mount
        self.roots = roots
    }

    /// Looks for kubepods roots at most `depth` levels below `base` (a path
    /// relative to the mount; "" for the whole hierarchy).
    public static func discover(mount: String, under base: String = "", depth: Int = 3) -> PodCgroupLocator {
        var roots: [String] = []
        var level = [base]
        for _ in 0..<depth {
            var next: [String] = []
            for directory in level {
                for name in subdirectories(of: mount + directory) {
                    let path = directory + "/" + name
                    if PodCgroupNaming.rootDriver(name) != nil {
                        roots.append(path)
                    } else {
                        next.append(path)
                    }
                }
            }
            level = next
        }
        return PodCgroupLocator(mount: mount, roots: roots.sorted())
    }

    /// The pod's cgroup, or nil when none of the roots has it (not started yet,
    /// or not on this node).
    public func locate(podUID uid: String) -> PodCgroup? {
        guard PodCgroupNaming.isValidUID(uid) else { return nil }
        for root in roots {
            for candidate in PodCgroupNaming.candidates(uid: uid, root: root) where Self.isDirectory(mount + candidate.path) {
                let containers = Self.subdirectories(of: mount + candidate.path).compactMap { name -> ContainerCgroup? in
                    guard let (id, runtime) = PodCgroupNaming.container(name) else { return nil }
                    return ContainerCgroup(id: id, runtime: runtime, path: candidate.path + "/" + name)
                }
                return PodCgroup(uid: uid, path: candidate.path, driver: candidate.driver, qos: candidate.qos,
                                 containers: containers.sorted { $0.path < $1.path })
            }
        }
        return nil
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    static func subdirectories(of path: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { isDirectory(path + "/" + $0) }.sorted()
    }
}

/// The kubelet's and runtimes' naming rules, as pure functions.
enum PodCgroupNaming {
    /// "kubepods.slice" and "<prefix>-kubepods.slice" are systemd roots, "kubepods" a cgroupfs one.
    static func rootDriver(_ name: String) -> CgroupDriver? {
        if name == "kubepods.slice" || name.hasSuffix("-kubepods.slice") { return .systemd }
        if name == "kubepods" { return .cgroupfs }
        return nil
    }

    /// Pod UIDs are UUIDs; anything else must not become part of a path.
    static func isValidUID(_ uid: String) -> Bool {
        !uid.isEmpty && uid.count <= 64 && uid.allSatisfy { $0.isHexDigit || $0 == "-" }
    }

    /// Where the pod's cgroup would be under `root`, for each QoS class.
    static func candidates(uid: String, root: String) -> [(path: String, driver: CgroupDriver, qos: PodQOSClass)] {
        let name = String(root.split(separator: "/").last ?? "")
        switch rootDriver(name) {
        case .systemd?:
            // systemd escapes '-' in unit names, so the kubelet writes the UID with '_'.
            let stem = String(name.dropLast(".slice".count))
            let escaped = uid.replacingOccurrences(of: "-", with: "_")
            return PodQOSClass.allCases.map { qos in
                qos == .guaranteed
                    ? ("\(root)/\(stem)-pod\(escaped).slice", .systemd, qos)
                    : ("\(root)/\(stem)-\(qos.rawValue).slice/\(stem)-\(qos.rawValue)-pod\(escaped).slice", .systemd, qos)
            }
        case .cgroupfs?:
            return PodQOSClass.allCases.map { qos in
                qos == .guaranteed ? ("\(root)/pod\(uid)", .cgroupfs, qos) : ("\(root)/\(qos.rawValue)/pod\(uid)", .cgroupfs, qos)
            }
        case nil:
            return []
        }
    }

    /// A container's cgroup directory name → its id and runtime:
    /// `cri-containerd-<id>.scope` and `<id>` (containerd), `crio-<id>.scope` and
    /// `crio-<id>` (CRI-O). CRI-O's `crio-conmon-<id>.scope` holds its monitor, not
    /// the container.
    static func container(_ name: String) -> (String, ContainerCgroup.Runtime)? {
        var id = name
        var runtime = ContainerCgroup.Runtime.containerd
        if id.hasSuffix(".scope") { id.removeLast(".scope".count) }
        if id.hasPrefix("cri-containerd-") {
            id.removeFirst("cri-containerd-".count)
        } else if id.hasPrefix("crio-") {
            id.removeFirst("crio-".count)
            runtime = .crio
        } else if name.hasSuffix(".scope") {
            return nil
        }
        // Runtime ids are 64 hex digits; a shorter run of hex is still an id, a word is not.
        guard id.count >= 12, id.allSatisfy(\.isHexDigit) else { return nil }
        return (id, runtime)
    }
}
