import CLibBPF
import Glibc

/// What to change in an object between opening and loading it.
public struct BPFLoadOptions: Sendable {
    /// `max_entries` of maps, by name (the ring buffer's size in bytes); maps
    /// the object does not declare are skipped.
    public var mapSizes: [String: UInt32] = [:]
    /// Load-time settings: `const volatile __u32` globals, by name.
    public var settings: [String: UInt32] = [:]

    public init(mapSizes: [String: UInt32] = [:], settings: [String: UInt32] = [:]) {
        self.mapSizes = mapSizes
        self.settings = settings
    }
}

/// One compiled BPF object file (`BPF/build/*.bpf.o`): opened, loaded into the
/// kernel, with maps that declare `LIBBPF_PIN_BY_NAME` pinned under (or reused
/// from) `pinRoot`. Closing the object does not detach pinned links.
public final class BPFObject: @unchecked Sendable {
    public let path: String
    private let object: OpaquePointer
    /// Pinned maps that did not fit this object's definitions and were
    /// replaced, one line each (`PinnedMapRepair`), for the caller to log.
    public private(set) var repairs: [String] = []

    /// Opens and loads the object. Maps already pinned under `pinRoot` with a
    /// matching definition are reused, which keeps their contents across
    /// restarts; a pin whose definition differs (left by a Ferry with another
    /// map layout) is replaced rather than failing the load. `options` sizes
    /// maps and sets load-time settings first.
    public init(path: String, pinRoot: String, options: BPFLoadOptions = BPFLoadOptions()) throws {
        self.path = path
        guard access(path, R_OK) == 0 else {
            throw BPFError.last("open BPF object \(path)", detail: "run `make bpf` to build the programs")
        }
        var opts = bpf_object_open_opts()
        opts.sz = MemoryLayout<bpf_object_open_opts>.size
        let opened: OpaquePointer? = pinRoot.withCString { root in
            opts.pin_root_path = root
            return bpf_object__open_file(path, &opts)
        }
        guard let opened else {
            throw BPFError.last("open BPF object \(path)", detail: LibBPFLog.takeRecent())
        }
        object = opened
        _ = LibBPFLog.takeRecent()
        // Sizes first: a pin must match them. (A throw runs deinit, which closes the object.)
        try prepare(options)
        let stale = PinnedMapRepair.setAsideMismatched(in: object)
        defer { for repair in stale { repair.close() } }
        guard bpf_object__load(object) == 0 else {
            // No bpf_object__close here: every stored property is set, so the
            // throw runs deinit, which closes it (closing twice was a double free).
            throw BPFError.last("load BPF object \(path)", detail: LibBPFLog.takeRecent())
        }
        repairs = stale.map { $0.finish(in: object) }
    }

    deinit { bpf_object__close(object) }

    /// A map as an object file declares it.
    public struct MapDefinition: Sendable, Equatable {
        public var type: UInt32
        public var keySize: UInt32
        public var valueSize: UInt32
        public var maxEntries: UInt32
    }

    /// The maps an object file declares, read without loading it (no
    /// privileges needed): what the kernel will be asked to create.
    public static func declaredMaps(path: String) throws -> [String: MapDefinition] {
        guard let object = bpf_object__open_file(path, nil) else {
            throw BPFError.last("open BPF object \(path)", detail: LibBPFLog.takeRecent())
        }
        defer { bpf_object__close(object) }
        var maps: [String: MapDefinition] = [:]
        var map = bpf_object__next_map(object, nil)
        while let current = map {
            maps[String(cString: bpf_map__name(current))] = MapDefinition(
                type: UInt32(bpf_map__type(current).rawValue), keySize: bpf_map__key_size(current),
                valueSize: bpf_map__value_size(current), maxEntries: bpf_map__max_entries(current))
            map = bpf_object__next_map(object, current)
        }
        return maps
    }

    /// Load-time settings and map sizes, set between opening and loading.
    private func prepare(_ options: BPFLoadOptions) throws {
        for (name, value) in options.settings {
            let rc = ferry_object_set_rodata_u32(object, name, value)
            guard rc == 0 else { throw BPFError("set load-time setting '\(name)' of \(path)", errno: -rc) }
        }
        for (name, size) in options.mapSizes {
            guard let map = bpf_object__find_map_by_name(object, name) else { continue }
            guard bpf_map__set_max_entries(map, size) == 0 else { throw BPFError.last("size map '\(name)' to \(size)") }
        }
    }

    public var programs: [BPFProgram] {
        var result: [BPFProgram] = []
        var program = bpf_object__next_program(object, nil)
        while let current = program {
            result.append(BPFProgram(pointer: current))
            program = bpf_object__next_program(object, current)
        }
        return result
    }

    public func program(named name: String) throws -> BPFProgram {
        guard let program = bpf_object__find_program_by_name(object, name) else {
            throw BPFError("find program '\(name)' in \(path)", errno: ENOENT)
        }
        return BPFProgram(pointer: program)
    }

    /// A new descriptor for one of the object's maps; the caller owns it.
    public func duplicateMapFD(named name: String) throws -> Int32 {
        guard let map = bpf_object__find_map_by_name(object, name) else {
            throw BPFError("find map '\(name)' in \(path)", errno: ENOENT)
        }
        let fd = dup(bpf_map__fd(map))
        guard fd >= 0 else { throw BPFError.last("duplicate descriptor of map '\(name)'") }
        return fd
    }
}

/// A loaded program inside a `BPFObject` (valid while the object lives).
public struct BPFProgram: @unchecked Sendable {
    let pointer: OpaquePointer

    public var name: String { String(cString: bpf_program__name(pointer)) }
    public var fd: Int32 { bpf_program__fd(pointer) }
    public var sectionName: String { String(cString: bpf_program__section_name(pointer)) }

    /// Attaches to a network namespace (sk_lookup programs).
    public func attach(netnsFD: Int32) throws -> BPFLink {
        guard let link = bpf_program__attach_netns(pointer, netnsFD) else {
            throw BPFError.last("attach program '\(name)' to network namespace", detail: LibBPFLog.takeRecent())
        }
        return BPFLink(pointer: link, label: name)
    }

    /// Attaches to a cgroup with a BPF link; the link keeps the program attached
    /// for as long as the link or its pin exists.
    public func attach(cgroupFD: Int32) throws -> BPFLink {
        guard let link = bpf_program__attach_cgroup(pointer, cgroupFD) else {
            throw BPFError.last("attach program '\(name)' to cgroup", detail: LibBPFLog.takeRecent())
        }
        return BPFLink(pointer: link, label: name)
    }
}

/// Where one of Ferry's programs belongs.
public enum LinkAttachPoint: Sendable {
    case cgroup(id: UInt64, path: String)
    case networkNamespace(inode: UInt64)
}

/// A BPF link: the attachment of a program to a hook.
public final class BPFLink: @unchecked Sendable {
    private let pointer: OpaquePointer
    public let label: String

    init(pointer: OpaquePointer, label: String) {
        self.pointer = pointer
        self.label = label
    }

    /// Opens a pinned link, to swap its program in place on restart.
    public static func openPinned(_ path: String) -> BPFLink? {
        guard let link = bpf_link__open(path) else { return nil }
        return BPFLink(pointer: link, label: path)
    }

    deinit {
        // Closing our descriptor only: a pinned link stays attached.
        bpf_link__disconnect(pointer)
        bpf_link__destroy(pointer)
    }

    /// The inode of the network namespace this link is attached to; nil for a
    /// link of another kind, or when its namespace is gone.
    public var networkNamespaceInode: UInt64? {
        let inode = ferry_link_netns_inode(bpf_link__fd(pointer))
        return inode == 0 ? nil : UInt64(inode)
    }

    /// What the link is attached to, per the kernel.
    public var target: ferry_link_target? {
        var target = ferry_link_target()
        return ferry_link_target(bpf_link__fd(pointer), &target) == 0 ? target : nil
    }

    /// Why this pinned link cannot simply get a new program: nil when it is
    /// attached where `expected` says; otherwise a phrase for the log (an
    /// earlier run attached it to a namespace or cgroup that is gone, or to
    /// another cgroup root).
    public func staleness(expected: LinkAttachPoint) -> String? {
        guard let target else { return "not a readable link" }
        switch expected {
        case .cgroup(let id, let path):
            guard target.type == BPF_LINK_TYPE_CGROUP.rawValue else { return "not a cgroup link" }
            if target.cgroup_id == 0 { return "a stale link: its cgroup is gone" }
            return target.cgroup_id == id ? nil : "a link attached elsewhere (cgroup id \(target.cgroup_id), not \(path))"
        case .networkNamespace(let inode):
            guard target.type == BPF_LINK_TYPE_NETNS.rawValue else { return "not a network namespace link" }
            if target.netns_inode == 0 { return "a stale link: its network namespace is gone" }
            return UInt64(target.netns_inode) == inode
                ? nil : "a link attached elsewhere (network namespace \(target.netns_inode), not \(inode))"
        }
    }

    public func pin(at path: String) throws {
        guard bpf_link__pin(pointer, path) == 0 else {
            throw BPFError.last("pin link of '\(label)' at \(path)")
        }
    }

    /// Atomically replaces the attached program: no window without capture.
    public func update(program: BPFProgram) throws {
        guard bpf_link__update_program(pointer, program.pointer) == 0 else {
            throw BPFError.last("replace program of link \(label) with '\(program.name)'")
        }
    }
}
