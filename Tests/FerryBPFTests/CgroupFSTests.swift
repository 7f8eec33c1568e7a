import FerryBPF
import Testing

@Suite struct CgroupFSTests {
    @Test func findsTheCgroup2MountOnHybridHosts() {
        let mountinfo = """
        25 30 0:23 / /sys/fs/cgroup rw,nosuid shared:9 - tmpfs tmpfs rw,mode=755
        26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
        27 25 0:25 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,name=systemd
        """
        #expect(CgroupFS.parseMountPoint(mountinfo: mountinfo) == "/sys/fs/cgroup/unified")
    }

    @Test func findsTheCgroup2MountOnUnifiedHosts() {
        let mountinfo = "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw\n"
        #expect(CgroupFS.parseMountPoint(mountinfo: mountinfo) == "/sys/fs/cgroup")
    }

    @Test func noCgroup2() {
        #expect(CgroupFS.parseMountPoint(mountinfo: "1 1 0:1 / / rw - ext4 /dev/vda rw\n") == nil)
    }

    @Test(arguments: [
        ("/sys/fs/cgroup/node/agent", "/sys/fs/cgroup/node", CgroupFS.Placement.inside),
        ("/sys/fs/cgroup/node", "/sys/fs/cgroup/node", .inside),
        ("/sys/fs/cgroup", "/sys/fs/cgroup/node", .above),
        ("/sys/fs/cgroup/system.slice/ferryd.service", "/sys/fs/cgroup/kubepods.slice", .outside),
        ("/sys/fs/cgroup/node10", "/sys/fs/cgroup/node1", .outside),
        ("/sys/fs/cgroup/node1/", "/sys/fs/cgroup/node1", .inside),
    ])
    func whereTheAgentsCgroupSitsAgainstTheRoot(agent: String, root: String, placement: CgroupFS.Placement) {
        #expect(CgroupFS.placement(of: agent, root: root) == placement)
    }

    @Test func errorsExplainErrno() {
        let error = BPFError("load program 'ferry_connect4'", errno: 1)
        #expect(error.description.hasPrefix("load program 'ferry_connect4': Operation not permitted"))
        #expect(error.description.contains("CAP_BPF"))
    }
}
