import CLibBPF
import Glibc

/// A pinned map whose definition differs from the one an object declares: an
/// earlier Ferry with another map layout (key or value size, type, size, flags)
/// left it. libbpf refuses to load over it, so before the load its pin is
/// removed (the old map stays open here); after the load, a map of the same
/// key and value shape gets the old entries copied into the new one, and any
/// other is left for the agent to refill from the mesh state.
struct PinnedMapRepair {
    let name: String
    let oldFD: Int32
    let old: bpf_map_info
    let wanted: (type: UInt32, keySize: UInt32, valueSize: UInt32, maxEntries: UInt32, flags: UInt32)

    /// Finds the object's pinned maps that would not be reused and unpins them.
    static func setAsideMismatched(in object: OpaquePointer) -> [PinnedMapRepair] {
        var found: [PinnedMapRepair] = []
        var map = bpf_object__next_map(object, nil)
        while let current = map {
            defer { map = bpf_object__next_map(object, current) }
            guard let pinPath = bpf_map__pin_path(current) else { continue }
            let fd = bpf_obj_get(pinPath)
            guard fd >= 0 else { continue }
            var info = bpf_map_info()
            let wanted = (type: UInt32(bpf_map__type(current).rawValue), keySize: bpf_map__key_size(current),
                          valueSize: bpf_map__value_size(current), maxEntries: bpf_map__max_entries(current),
                          flags: bpf_map__map_flags(current))
            guard ferry_map_shape(fd, &info) == 0,
                  info.type != wanted.type || info.key_size != wanted.keySize || info.value_size != wanted.valueSize
                    || info.max_entries != wanted.maxEntries || info.map_flags != wanted.flags,
                  unlink(pinPath) == 0
            else {
                Glibc.close(fd)
                continue
            }
            found.append(PinnedMapRepair(name: String(cString: bpf_map__name(current)), oldFD: fd, old: info, wanted: wanted))
        }
        return found
    }

    /// After the load: copies what fits and says what was done.
    func finish(in object: OpaquePointer) -> String {
        var changes: [String] = []
        if old.type != wanted.type { changes.append("type \(old.type) → \(wanted.type)") }
        if old.key_size != wanted.keySize { changes.append("key \(old.key_size) → \(wanted.keySize) bytes") }
        if old.value_size != wanted.valueSize { changes.append("value \(old.value_size) → \(wanted.valueSize) bytes") }
        if old.max_entries != wanted.maxEntries { changes.append("max_entries \(old.max_entries) → \(wanted.maxEntries)") }
        if old.map_flags != wanted.flags { changes.append("flags \(old.map_flags) → \(wanted.flags)") }
        let summary = "map \(name) pinned by an earlier Ferry has another layout (\(changes.joined(separator: ", "))): replaced"
        guard old.type == wanted.type, old.key_size == wanted.keySize, old.value_size == wanted.valueSize,
              Self.copyable(wanted.type),
              let map = bpf_object__find_map_by_name(object, name)
        else { return summary + "; the agent refills it from the mesh state" }
        let copied = copyEntries(to: bpf_map__fd(map))
        return summary + ", \(copied) entries copied"
    }

    func close() { Glibc.close(oldFD) }

    /// Maps whose entries read back as what was written (not socket maps, not
    /// per-CPU arrays, not ring buffers).
    static func copyable(_ type: UInt32) -> Bool {
        [BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_LRU_HASH, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_LPM_TRIE]
            .map(\.rawValue).contains(type)
    }

    private func copyEntries(to newFD: Int32) -> Int {
        var key = [UInt8](repeating: 0, count: Int(old.key_size))
        var next = key
        var value = [UInt8](repeating: 0, count: Int(old.value_size))
        var copied = 0
        var first = true
        while copied < Int(wanted.maxEntries) {
            let rc = first ? bpf_map_get_next_key(oldFD, nil, &next) : bpf_map_get_next_key(oldFD, &key, &next)
            guard rc == 0 else { break }
            first = false
            key = next
            if bpf_map_lookup_elem(oldFD, &key, &value) == 0, bpf_map_update_elem(newFD, &key, &value, UInt64(BPF_ANY)) == 0 {
                copied += 1
            }
        }
        return copied
    }
}
