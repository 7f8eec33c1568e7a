@testable import FerryBPF
import Foundation
import Glibc
import Testing

/// The naming rules, on a plain directory tree standing in for the cgroup2 mount.
@Suite struct PodCgroupNamingTests {
    static let uid = "0f3c2a9e-1b2d-4c5e-8f90-a1b2c3d4e5f6"
    static let id = String(repeating: "ab12", count: 16)

    @Test func systemdNamesEscapeTheUIDAndNestByQOS() {
        let paths = PodCgroupNaming.candidates(uid: Self.uid, root: "/kubepods.slice").map(\.path)
        #expect(paths == [
            "/kubepods.slice/kubepods-pod0f3c2a9e_1b2d_4c5e_8f90_a1b2c3d4e5f6.slice",
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f3c2a9e_1b2d_4c5e_8f90_a1b2c3d4e5f6.slice",
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f3c2a9e_1b2d_4c5e_8f90_a1b2c3d4e5f6.slice",
        ])
        // A kubelet with its own cgroup root (kind) prefixes every unit name.
        #expect(PodCgroupNaming.candidates(uid: "u-1", root: "/kubelet.slice/kubelet-kubepods.slice")[1].path
            == "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-podu_1.slice")
    }

    @Test func cgroupfsNamesKeepTheUID() {
        #expect(PodCgroupNaming.candidates(uid: Self.uid, root: "/kubepods").map(\.path) == [
            "/kubepods/pod\(Self.uid)", "/kubepods/burstable/pod\(Self.uid)", "/kubepods/besteffort/pod\(Self.uid)",
        ])
    }

    @Test func containerDirectoriesNameTheirRuntime() {
        #expect(PodCgroupNaming.container("cri-containerd-\(Self.id).scope")! == (Self.id, .containerd))
        #expect(PodCgroupNaming.container(Self.id)! == (Self.id, .containerd))
        #expect(PodCgroupNaming.container("crio-\(Self.id).scope")! == (Self.id, .crio))
        #expect(PodCgroupNaming.container("crio-\(Self.id)")! == (Self.id, .crio))
        #expect(PodCgroupNaming.container("crio-conmon-\(Self.id).scope") == nil)
        #expect(PodCgroupNaming.container("docker-\(Self.id).scope") == nil)
        #expect(PodCgroupNaming.container("init.scope") == nil)
    }

    @Test func uidsThatCouldEscapeThePathAreRefused() {
        let locator = PodCgroupLocator(mount: "/nonexistent", roots: ["/kubepods"])
        #expect(locator.locate(podUID: "../../etc") == nil)
        #expect(!PodCgroupNaming.isValidUID("a/b"))
        #expect(!PodCgroupNaming.isValidUID(""))
        #expect(PodCgroupNaming.isValidUID(Self.uid))
    }

    @Test func discoveryFindsRootsAtAnyShallowDepth() throws {
        let mount = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-podnames-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: mount) }
        let pod = "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod\(Self.uid.replacingOccurrences(of: "-", with: "_")).slice"
        for directory in [pod + "/cri-containerd-\(Self.id).scope", pod + "/notes", "/system.slice/ssh.service", "/kubepods/burstable"] {
            try FileManager.default.createDirectory(atPath: mount + directory, withIntermediateDirectories: true)
        }
        let locator = PodCgroupLocator.discover(mount: mount)
        #expect(locator.roots == ["/kubelet.slice/kubelet-kubepods.slice", "/kubepods"])
        let found = try #require(locator.locate(podUID: Self.uid))
        #expect(found.path == pod)
        #expect(found.driver == .systemd && found.qos == .besteffort)
        #expect(found.containers == [ContainerCgroup(id: Self.id, runtime: .containerd, path: pod + "/cri-containerd-\(Self.id).scope")])
        #expect(locator.locate(podUID: "0f3c2a9e-0000-0000-0000-000000000000") == nil)
    }
}

/// Real cgroups on this kernel: a kubelet-shaped tree in a uniquely named test
/// subtree of the cgroup2 mount, with a sleeping process in a container cgroup.
@Suite(.serialized) struct PodCgroupsOnThisNodeTests {
    static let mount = CgroupFS.mountPoint()
    static let canRun = getuid() == 0 && mount != nil

    struct Layout: CustomTestStringConvertible, Sendable {
        var driver: CgroupDriver
        var runtime: ContainerCgroup.Runtime
        var qos: PodQOSClass
        var testDescription: String { "\(driver) \(runtime) \(qos)" }
    }

    static let layouts = [
        Layout(driver: .systemd, runtime: .containerd, qos: .burstable),
        Layout(driver: .systemd, runtime: .crio, qos: .guaranteed),
        Layout(driver: .cgroupfs, runtime: .containerd, qos: .guaranteed),
        Layout(driver: .cgroupfs, runtime: .crio, qos: .besteffort),
    ]

    @Test(.enabled(if: canRun, "needs root and a cgroup2 mount to create cgroups and move processes"), arguments: layouts)
    func findsThePodItsContainersAndItsNetworkNamespace(layout: Layout) throws {
        let lab = try CgroupLab(mount: Self.mount!)
        defer { lab.tearDown() }
        let uid = UUID().uuidString.lowercased()
        let appID = Self.randomID(), sandboxID = Self.randomID()
        let pod = lab.base + Self.podPath(uid: uid, layout: layout)
        let app = pod + "/" + Self.containerName(appID, layout: layout)
        let sandbox = pod + "/" + Self.containerName(sandboxID, layout: layout)
        try lab.makeCgroup(app)
        try lab.makeCgroup(sandbox)
        if layout.runtime == .crio { try lab.makeCgroup(pod + "/crio-conmon-\(appID).scope") }

        // The workload in a network namespace of its own; the pause process joins it.
        let workload = try lab.spawn("/usr/bin/unshare", ["--net", "/usr/bin/sleep", "120"], command: "sleep")
        try lab.move(workload, to: app)
        let pause = try lab.spawn("/usr/bin/nsenter", ["--net=/proc/\(workload)/ns/net", try lab.pauseBinary(), "120"], command: "pause")
        try lab.move(pause, to: sandbox)

        let locator = PodCgroupLocator.discover(mount: Self.mount!, under: lab.base)
        let found = try #require(locator.locate(podUID: uid))
        #expect(found.path == pod)
        #expect(found.driver == layout.driver)
        #expect(found.qos == layout.qos)
        #expect(Set(found.containers.map(\.id)) == [appID, sandboxID])
        #expect(found.containers.allSatisfy { $0.runtime == layout.runtime })
        #expect(try CgroupFS.cgroupID(path: Self.mount! + found.path) > 0)

        let namespaces = found.networkNamespaces(mount: Self.mount!)
        let inode = try #require(PodCgroup.networkNamespaceInode(pid: workload, proc: "/proc"))
        #expect(namespaces == [PodNetworkNamespace(inode: inode, pid: workload)], "one namespace, held by the workload, not pause")
        #expect(inode != PodCgroup.networkNamespaceInode(pid: getpid(), proc: "/proc"))
    }

    static func podPath(uid: String, layout: Layout) -> String {
        let escaped = uid.replacingOccurrences(of: "-", with: "_")
        switch (layout.driver, layout.qos) {
        case (.systemd, .guaranteed): return "/kubepods.slice/kubepods-pod\(escaped).slice"
        case (.systemd, let qos): return "/kubepods.slice/kubepods-\(qos.rawValue).slice/kubepods-\(qos.rawValue)-pod\(escaped).slice"
        case (.cgroupfs, .guaranteed): return "/kubepods/pod\(uid)"
        case (.cgroupfs, let qos): return "/kubepods/\(qos.rawValue)/pod\(uid)"
        }
    }

    static func containerName(_ id: String, layout: Layout) -> String {
        switch (layout.driver, layout.runtime) {
        case (.systemd, .containerd): "cri-containerd-\(id).scope"
        case (.systemd, .crio): "crio-\(id).scope"
        case (.cgroupfs, .containerd): id
        case (.cgroupfs, .crio): "crio-\(id)"
        }
    }

    static func randomID() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}

/// A test subtree of the cgroup2 mount and the processes put in it; `tearDown`
/// kills the processes and removes every cgroup, deepest first.
final class CgroupLab {
    let mount: String
    /// Relative to the mount.
    let base: String
    private var cgroups: [String] = []
    private var processes: [Process] = []
    private let scratch: String

    init(mount: String) throws {
        self.mount = mount
        base = "/ferry-podtest-\(UUID().uuidString.prefix(8).lowercased())"
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-podtest-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        try makeCgroup(base)
    }

    /// Creates the cgroup and its missing parents (relative to the mount).
    func makeCgroup(_ path: String) throws {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(mount + current, 0o755) == 0 {
                cgroups.append(current)
            } else if errno != EEXIST {
                throw LabError("mkdir \(mount + current): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// A copy of sleep named "pause", as a pod sandbox's process is called.
    func pauseBinary() throws -> String {
        let path = scratch + "/pause"
        if !FileManager.default.fileExists(atPath: path) { try FileManager.default.copyItem(atPath: "/usr/bin/sleep", toPath: path) }
        return path
    }

    /// Starts a process and waits until it has exec'd `command` (so any
    /// namespace change before the exec is done).
    func spawn(_ executable: String, _ arguments: [String], command: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        processes.append(process)
        let pid = process.processIdentifier
        for _ in 0..<250 {
            if PodCgroup.command(pid: pid, proc: "/proc") == command { return pid }
            usleep(20_000)
        }
        throw LabError("\(executable) \(arguments) did not become '\(command)'")
    }

    func move(_ pid: Int32, to cgroup: String) throws {
        try "\(pid)\n".write(toFile: mount + cgroup + "/cgroup.procs", atomically: false, encoding: .utf8)
    }

    func tearDown() {
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        for cgroup in cgroups.reversed() {
            // An emptied cgroup can stay busy for a moment after its last process exits.
            for _ in 0..<100 {
                if rmdir(mount + cgroup) == 0 || errno == ENOENT { break }
                usleep(10_000)
            }
        }
        try? FileManager.default.removeItem(atPath: scratch)
    }
}

struct LabError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
