import CLibBPF
import FerryBPF
import Testing

/// `ferry_inbound_value` is read by the kernel and written by ferryd, and entries
/// pinned by an older agent (a 32-bit flags word) must still mean "the node's
/// listener".
@Suite struct InboundABITests {
    @Test func listenerTakesTheUpperHalfOfTheOldFlagsWord() {
        #expect(MemoryLayout<ferry_inbound_value>.size == 8)
        #expect(MemoryLayout<ferry_inbound_value>.offset(of: \.flags) == 4)
        #expect(MemoryLayout<ferry_inbound_value>.offset(of: \.listener) == 6)
        // What an older agent wrote: workload 7, flags (32 bits) = STRICT.
        let old: (UInt32, UInt32) = (7, UInt32(FERRY_INBOUND_STRICT))
        let read = unsafeBitCast(old, to: ferry_inbound_value.self)
        #expect(read.workload == 7 && read.flags == UInt16(FERRY_INBOUND_STRICT) && read.listener == 0)
    }

    /// The compiled program's SOCKMAP has a slot for each half of every pair
    /// ferryd may hand out, and the ABI structs are the sizes the maps declare.
    @Test func podPairsFitTheSockmapTheObjectDeclares() throws {
        let maps = try BPFObject.declaredMaps(path: DatapathLayout.defaultObjectDirectory() + "/inbound.bpf.o")
        let pods = try #require(maps["ferry_pod_listeners"])
        #expect(pods.type == BPF_MAP_TYPE_SOCKMAP.rawValue)
        #expect(pods.maxEntries == 2 * UInt32(FerryDatapath.podListenerPairs))
        let inbound = try #require(maps["ferry_inbound"])
        #expect(inbound.keySize == UInt32(MemoryLayout<ferry_inbound_key>.size))
        #expect(inbound.valueSize == UInt32(MemoryLayout<ferry_inbound_value>.size))
    }
}
