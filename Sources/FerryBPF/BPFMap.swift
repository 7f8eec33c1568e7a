import CLibBPF
import Glibc

/// Facts the kernel reports about a map.
public struct BPFMapInfo: Sendable, Hashable, Codable {
    public var name: String
    public var type: String
    public var keySize: UInt32
    public var valueSize: UInt32
    public var maxEntries: UInt32
    public var id: UInt32
}

/// A BPF map seen from user space through its file descriptor, typed by the ABI
/// structs of ferry_abi.h. Owns the descriptor.
public final class BPFMap<Key: BitwiseCopyable, Value: BitwiseCopyable>: @unchecked Sendable {
    public let name: String
    public let fd: Int32

    /// Wraps a descriptor, checking that the kernel's key and value sizes match
    /// the Swift types (a stale pinned map from an older build would not).
    public init(fd: Int32, name: String) throws {
        self.fd = fd
        self.name = name
        let info = try BPFMapRef.info(fd: fd, name: name)
        guard info.keySize == MemoryLayout<Key>.size, info.valueSize == MemoryLayout<Value>.size else {
            close(fd)
            throw BPFError(
                "open map '\(name)'", errno: EINVAL,
                detail: "key/value sizes \(info.keySize)/\(info.valueSize) do not match this build's \(MemoryLayout<Key>.size)/\(MemoryLayout<Value>.size); run `ferryctl unload` to drop stale pins"
            )
        }
    }

    /// Opens a map pinned on bpffs.
    public convenience init(pinned path: String) throws {
        let fd = bpf_obj_get(path)
        guard fd >= 0 else { throw BPFError.last("open pinned map \(path)") }
        try self.init(fd: fd, name: BPFMapRef.baseName(path))
    }

    deinit { close(fd) }

    /// The hash map pinned at `path`, made and pinned there first when there
    /// is none (a map only user space writes, which no program declares). A pin
    /// of another shape, from an older build, is replaced.
    public static func pinnedHash(at path: String, maxEntries: UInt32) throws -> BPFMap {
        if BPFFS.exists(path) {
            if let map = try? BPFMap(pinned: path), (try? map.info())?.type == "hash" { return map }
            try BPFFS.remove(path)
        }
        let name = BPFMapRef.baseName(path)
        let fd = bpf_map_create(BPF_MAP_TYPE_HASH, name, UInt32(MemoryLayout<Key>.size), UInt32(MemoryLayout<Value>.size),
                                maxEntries, nil)
        guard fd >= 0 else { throw BPFError.last("create map '\(name)'") }
        guard bpf_obj_pin(fd, path) == 0 else {
            let error = BPFError.last("pin map '\(name)' at \(path)")
            close(fd)
            throw error
        }
        return try BPFMap(fd: fd, name: name)
    }

    public func lookup(_ key: Key) -> Value? {
        var key = key
        return withUnsafeTemporaryAllocation(of: Value.self, capacity: 1) { value in
            bpf_map_lookup_elem(fd, &key, value.baseAddress!) == 0 ? value[0] : nil
        }
    }

    public func update(_ key: Key, _ value: Value, flags: UInt64 = UInt64(BPF_ANY)) throws {
        var key = key
        var value = value
        guard bpf_map_update_elem(fd, &key, &value, flags) == 0 else {
            throw BPFError.last("update map '\(name)'")
        }
    }

    /// Deletes a key; returns false when it was not there.
    @discardableResult
    public func delete(_ key: Key) throws -> Bool {
        var key = key
        if bpf_map_delete_elem(fd, &key) == 0 { return true }
        if errno == ENOENT { return false }
        throw BPFError.last("delete from map '\(name)'")
    }

    public func keys() -> [Key] {
        var result: [Key] = []
        withUnsafeTemporaryAllocation(of: Key.self, capacity: 2) { buffer in
            let current = buffer.baseAddress!
            let next = current + 1
            var havePrevious = false
            while bpf_map_get_next_key(fd, havePrevious ? current : nil, next) == 0 {
                result.append(next.pointee)
                current.pointee = next.pointee
                havePrevious = true
            }
        }
        return result
    }

    /// All entries. Batched (two system calls per 4,096 entries) where the map
    /// type supports it, so a scrape with tens of thousands of connections stays
    /// cheap; one lookup per key otherwise. Entries deleted meanwhile are skipped.
    public func entries() -> [(key: Key, value: Value)] {
        if let batched = batchedEntries() { return batched }
        return keys().compactMap { key in lookup(key).map { (key, $0) } }
    }

    private func batchedEntries() -> [(key: Key, value: Value)]? {
        let chunk = 4096
        // On the heap: a chunk of large values would overflow a thread's stack.
        let keyBuffer = UnsafeMutablePointer<Key>.allocate(capacity: chunk)
        let valueBuffer = UnsafeMutablePointer<Value>.allocate(capacity: chunk)
        defer {
            keyBuffer.deallocate()
            valueBuffer.deallocate()
        }
        var opts = bpf_map_batch_opts()
        opts.sz = MemoryLayout<bpf_map_batch_opts>.size
        var result: [(key: Key, value: Value)] = []
        // The batch position is opaque; hash maps use 4 bytes, arrays the key size.
        var token = [UInt8](repeating: 0, count: max(MemoryLayout<Key>.size, 8))
        var next = token
        var first = true
        while true {
            var count = UInt32(chunk)
            let rc = token.withUnsafeMutableBytes { tokenBytes in
                next.withUnsafeMutableBytes { nextBytes in
                    bpf_map_lookup_batch(fd, first ? nil : tokenBytes.baseAddress, nextBytes.baseAddress,
                                         keyBuffer, valueBuffer, &count, &opts)
                }
            }
            let savedErrno = errno
            for index in 0..<Int(count) { result.append((keyBuffer[index], valueBuffer[index])) }
            if rc != 0 {
                // ENOENT: that was the last batch. Anything else: batching is not supported here.
                return savedErrno == ENOENT ? result : (first ? nil : result)
            }
            token = next
            first = false
        }
    }

    public var count: Int { keys().count }

    public func info() throws -> BPFMapInfo { try BPFMapRef.info(fd: fd, name: name) }
}

extension BPFMap where Key: Hashable {
    /// Makes the map hold exactly `desired`: writes entries that are missing
    /// or differ (`same` compares values; the ABI structs are not Equatable)
    /// and deletes the rest. `current` spares a read the caller already made.
    /// Returns one message per entry that failed, naming the map.
    public func sync(to desired: [Key: Value], current: [Key: Value]? = nil,
                     same: (Value, Value) -> Bool) -> [String] {
        let current = current ?? Dictionary(entries().map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        var failures: [String] = []
        for (key, value) in desired where !(current[key].map { same($0, value) } ?? false) {
            do { try update(key, value) } catch { failures.append("\(error)") }
        }
        for key in current.keys where desired[key] == nil {
            do { try delete(key) } catch { failures.append("\(error)") }
        }
        return failures
    }
}

extension BPFMap where Key: Hashable, Value: Equatable {
    public func sync(to desired: [Key: Value], current: [Key: Value]? = nil) -> [String] {
        sync(to: desired, current: current, same: ==)
    }
}

/// An untyped handle for inspection: `ferryctl maps` lists maps of any shape.
public enum BPFMapRef {
    public static func info(fd: Int32, name: String) throws -> BPFMapInfo {
        var info = bpf_map_info()
        var length = UInt32(MemoryLayout<bpf_map_info>.size)
        guard bpf_obj_get_info_by_fd(fd, &info, &length) == 0 else {
            throw BPFError.last("read info of map '\(name)'")
        }
        let kernelName = withUnsafeBytes(of: info.name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let typeName = libbpf_bpf_map_type_str(bpf_map_type(info.type)).map { String(cString: $0) } ?? "\(info.type)"
        return BPFMapInfo(
            name: kernelName.isEmpty ? name : kernelName, type: typeName,
            keySize: info.key_size, valueSize: info.value_size,
            maxEntries: info.max_entries, id: info.id
        )
    }

    /// Every key as raw bytes, without knowing the key type.
    public static func rawKeys(fd: Int32, keySize: Int, limit: Int = 1_000_000) -> [[UInt8]] {
        var keys: [[UInt8]] = []
        var current = [UInt8](repeating: 0, count: max(keySize, 1))
        var next = current
        var havePrevious = false
        while keys.count < limit {
            let rc = current.withUnsafeMutableBytes { cur in
                next.withUnsafeMutableBytes { nxt in
                    bpf_map_get_next_key(fd, havePrevious ? cur.baseAddress : nil, nxt.baseAddress)
                }
            }
            guard rc == 0 else { break }
            keys.append(next)
            current = next
            havePrevious = true
        }
        return keys
    }

    /// Every entry as raw bytes, for `ferryctl maps dump` on maps of any type.
    public static func rawEntries(fd: Int32, info: BPFMapInfo, limit: Int = 100_000) -> [(key: [UInt8], value: [UInt8])] {
        let valueSize = isPerCPU(info.type) ? Int(roundUp8(info.valueSize)) * possibleCPUCount() : Int(info.valueSize)
        return rawKeys(fd: fd, keySize: Int(info.keySize), limit: limit).compactMap { key in
            var key = key
            var value = [UInt8](repeating: 0, count: max(valueSize, 1))
            let found = key.withUnsafeMutableBytes { k in
                value.withUnsafeMutableBytes { bpf_map_lookup_elem(fd, k.baseAddress, $0.baseAddress) == 0 }
            }
            return found ? (key, value) : nil
        }
    }

    static func isPerCPU(_ type: String) -> Bool { type.hasPrefix("percpu") || type.hasPrefix("lru_percpu") }
    static func roundUp8(_ size: UInt32) -> UInt32 { (size + 7) & ~7 }

    static func baseName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

/// The number of possible CPUs, which sizes per-CPU map values.
public func possibleCPUCount() -> Int {
    let count = libbpf_num_possible_cpus()
    return count > 0 ? Int(count) : 1
}

/// A per-CPU array of 64-bit counters, summed over CPUs when read.
public final class BPFCounterArray: @unchecked Sendable {
    public let name: String
    public let fd: Int32
    private let cpus = possibleCPUCount()

    public init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
    }

    public convenience init(pinned path: String) throws {
        let fd = bpf_obj_get(path)
        guard fd >= 0 else { throw BPFError.last("open pinned map \(path)") }
        self.init(fd: fd, name: BPFMapRef.baseName(path))
    }

    deinit { close(fd) }

    public func sum(_ index: UInt32) -> UInt64 {
        var key = index
        var values = [UInt64](repeating: 0, count: cpus)
        guard bpf_map_lookup_elem(fd, &key, &values) == 0 else { return 0 }
        return values.reduce(0, &+)
    }
}
