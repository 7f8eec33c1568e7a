import CLibBPF
import FerryBPF
import Testing

/// The close record, the connection stats it embeds, and the pinned names are
/// read by ferryd and ferryctl builds other than the one that wrote them.
@Suite struct CloseEventABITests {
    @Test func connectionStatsKeepTheirSizeSoOlderPinsAreReused() {
        // libbpf reuses a pinned ferry_conns only with the same value size.
        #expect(MemoryLayout<ferry_conn_stats>.size == 136)
        #expect(MemoryLayout<ferry_conn_stats>.offset(of: \.established_ns) == 96, "where updated_ns was")
        #expect(MemoryLayout<ferry_conn_stats>.offset(of: \.flags) == 134, "where the padding was: older entries read 0")
    }

    @Test func aCloseRecordIsTheFinalStatsPlusHowItEnded() {
        #expect(MemoryLayout<ferry_close_event>.size == 160)
        #expect(MemoryLayout<ferry_close_event>.size % 8 == 0)
        #expect(MemoryLayout<ferry_close_event>.offset(of: \.stats) == 8)
        #expect(FERRY_END_FIN.rawValue == 1 && FERRY_END_RST.rawValue == 2 && FERRY_END_TIMEOUT.rawValue == 3)
        #expect(FERRY_CTR_EVENTS_DROPPED.rawValue == FERRY_CTR_COUNT.rawValue - 1, "new counters go last")
    }

    /// The compiled sockops program declares the maps with the shapes Swift reads.
    @Test func theObjectDeclaresTheRingBufferAndTheStatsSwiftReads() throws {
        let maps = try BPFObject.declaredMaps(path: DatapathLayout.defaultObjectDirectory() + "/sockops.bpf.o")
        let events = try #require(maps["ferry_events"])
        #expect(events.type == BPF_MAP_TYPE_RINGBUF.rawValue)
        #expect(events.maxEntries == FERRY_EVENTS_DEFAULT_BYTES)
        let conns = try #require(maps["ferry_conns"])
        #expect(conns.valueSize == UInt32(MemoryLayout<ferry_conn_stats>.size))
        #expect(maps["ferry_counters"]?.maxEntries == FERRY_CTR_COUNT.rawValue)
    }

    @Test func workloadNamesRoundTripAndLongOnesAreCut() {
        #expect(ferry_workload_name("demo/client").text == "demo/client")
        let long = String(repeating: "n", count: 400)
        #expect(ferry_workload_name(long).text.utf8.count == Int(FERRY_WORKLOAD_NAME_MAX) - 1)
        #expect(FerryDatapath.mapNames.contains("ferry_names") && FerryDatapath.mapNames.contains("ferry_events"))
    }

    @Test func theRingBufferSizeMustBeAPowerOfTwoOfAtLeastAPage() {
        #expect(DatapathSettings.problem(eventBufferBytes: 4096) == nil)
        #expect(DatapathSettings.problem(eventBufferBytes: 1 << 20) == nil)
        #expect(DatapathSettings.problem(eventBufferBytes: 5000)?.contains("not a power of two") == true)
        #expect(DatapathSettings.problem(eventBufferBytes: 1024) != nil, "below a page")
        #expect(DatapathSettings.problem(eventBufferBytes: 0) != nil)
        #expect(DatapathSettings.problem(eventBufferBytes: 1 << 31) != nil)
    }

    @Test func aKernelWithoutRingBuffersIsRefusedWithTheReason() {
        let reason = RingBufferReader.unsupportedReason(supported: false)
        #expect(reason?.contains("BPF_MAP_TYPE_RINGBUF") == true)
        #expect(reason?.contains("5.8") == true)
        #expect(RingBufferReader.unsupportedReason(supported: true) == nil)
    }
}
