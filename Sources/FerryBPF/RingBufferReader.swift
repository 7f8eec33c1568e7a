import CLibBPF
import Glibc

/// The reading end of a BPF ring buffer (`BPF_MAP_TYPE_RINGBUF`), through
/// libbpf's `ring_buffer`. Each record goes to `handler` as raw bytes, on the
/// thread that called `poll` or `consume` and valid only during the call;
/// decoding (and checking the size) is the caller's. Not for the event loops:
/// `poll` blocks.
public final class RingBufferReader: @unchecked Sendable {
    public typealias Handler = (UnsafeRawBufferPointer) -> Void

    /// Holds the handler for libbpf's C callback, which gets it back as its context.
    private final class Box {
        let handler: Handler
        init(_ handler: @escaping Handler) { self.handler = handler }
    }

    public let name: String
    private let fd: Int32
    private let box: Unmanaged<Box>
    private let reader: OpaquePointer

    /// Opens a ring buffer pinned on bpffs.
    public init(pinned path: String, handler: @escaping Handler) throws {
        name = BPFMapRef.baseName(path)
        fd = bpf_obj_get(path)
        guard fd >= 0 else { throw BPFError.last("open pinned ring buffer \(path)") }
        guard let info = try? BPFMapRef.info(fd: fd, name: name), info.type == "ringbuf" else {
            close(fd)
            throw BPFError("open ring buffer \(path)", errno: EINVAL, detail: "it is not a ring buffer")
        }
        box = Unmanaged.passRetained(Box(handler))
        let callback: ring_buffer_sample_fn = { context, data, size in
            guard let context, let data else { return 0 }
            Unmanaged<Box>.fromOpaque(context).takeUnretainedValue().handler(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        }
        guard let made = ring_buffer__new(fd, callback, box.toOpaque(), nil) else {
            let error = BPFError.last("read ring buffer \(path)", detail: LibBPFLog.takeRecent())
            box.release()
            close(fd)
            throw error
        }
        reader = made
    }

    deinit {
        ring_buffer__free(reader)
        box.release()
        close(fd)
    }

    /// Waits up to `timeoutMilliseconds` for the kernel's wake-up, then hands
    /// over the records of the buffers that woke. Returns how many.
    @discardableResult
    public func poll(timeoutMilliseconds: Int32) throws -> Int {
        let count = ring_buffer__poll(reader, timeoutMilliseconds)
        if count < 0 && count != -EINTR { throw BPFError("poll ring buffer '\(name)'", errno: -count) }
        return max(0, Int(count))
    }

    /// Hands over every record there is now, without waiting (records the
    /// kernel submitted without a wake-up included). Returns how many.
    @discardableResult
    public func consume() throws -> Int {
        let count = ring_buffer__consume(reader)
        if count < 0 { throw BPFError("read ring buffer '\(name)'", errno: -count) }
        return Int(count)
    }

    /// Whether this kernel has BPF ring buffers (Linux 5.8 and later), probed
    /// by creating one.
    public static func kernelSupportsRingBuffers() -> Bool {
        libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nil) == 1
    }

    /// Why Ferry cannot run without them, or nil when `supported`: what
    /// `ferryctl check` and ferryd say on an older kernel.
    public static func unsupportedReason(supported: Bool = kernelSupportsRingBuffers()) -> String? {
        supported ? nil
            : "this kernel has no BPF ring buffer (BPF_MAP_TYPE_RINGBUF, Linux 5.8 or later), which carries every connection's final RTT and retransmits (or this process may not create BPF maps)"
    }
}
