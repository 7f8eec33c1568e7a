import CLibBPF
import FerryTelemetry
import Prometheus
import Testing

/// Every socket's kernel numbers count once, whether the agent saw it live,
/// only at its close, or learnt its owner late.
@Suite struct KernelSocketAccountingTests {
    static let pair = WorkloadPair(sourceWorkload: "client", sourceNamespace: "demo", destinationWorkload: "echo", destinationNamespace: "demo")
    static let client = SocketOwner.pair(pair, .client)
    let start = ContinuousClock.now

    func event(_ cookie: UInt64, srttMicroseconds: UInt32 = 10_000, retransmits: UInt32 = 0, connectMicroseconds: UInt64? = 300,
               end: UInt8 = UInt8(FERRY_END_FIN.rawValue), kind: UInt32 = FERRY_CONN_CAPTURED.rawValue, workload: UInt32 = 7) -> KernelCloseEvent {
        var raw = ferry_close_event()
        raw.cookie = cookie
        raw.stats.kind = UInt8(kind)
        raw.stats.origin.workload = workload
        raw.stats.srtt_us = srttMicroseconds
        raw.stats.total_retrans = retransmits
        raw.stats.start_ns = 1_000_000
        if let connectMicroseconds {
            raw.stats.established_ns = 1_000_000 + connectMicroseconds * 1000
            raw.stats.flags = UInt16(FERRY_CONN_ESTABLISHED)
        }
        raw.end_ns = 9_000_000
        raw.end = end
        return KernelCloseEvent(raw)
    }

    @Test func aConnectionSeenOnlyAtItsCloseCountsOnceWithAllItsNumbers() {
        var accounting = KernelSocketAccounting()
        let observations = accounting.closed(event(1, retransmits: 3), owner: Self.client, now: start)
        #expect(observations == [
            .rtt(Self.client, seconds: 0.01), .retransmits(Self.client, count: 3),
            .connect(Self.client, seconds: 0.0003), .closed(Self.client, end: .fin),
        ])
    }

    @Test func retransmitsAndTheConnectTimeSeenLiveAreNotCountedAgainAtClose() {
        var accounting = KernelSocketAccounting()
        let live = KernelSocketState(cookie: 1, srttSeconds: 0.012, retransmits: 2, connectSeconds: 0.0003)
        #expect(accounting.live(live, owner: Self.client) == [
            .rtt(Self.client, seconds: 0.012), .retransmits(Self.client, count: 2), .connect(Self.client, seconds: 0.0003),
        ])
        // The next second: nothing new but the RTT.
        #expect(accounting.live(live, owner: Self.client) == [.rtt(Self.client, seconds: 0.012)])
        let closed = accounting.closed(event(1, retransmits: 5), owner: Self.client, now: start)
        #expect(closed == [.rtt(Self.client, seconds: 0.01), .retransmits(Self.client, count: 3), .closed(Self.client, end: .fin)])
    }

    @Test func aRecordThatArrivesBeforeItsOwnerWaitsForIt() {
        var accounting = KernelSocketAccounting(patience: .seconds(5))
        #expect(accounting.closed(event(9), owner: nil, now: start).isEmpty)
        #expect(accounting.retry(now: start + .seconds(1), owner: { _ in nil }, fallback: { _ in nil }).isEmpty)
        #expect(accounting.waitingCount == 1)
        let late = accounting.retry(now: start + .seconds(2), owner: { $0 == 9 ? Self.client : nil }, fallback: { _ in nil })
        #expect(late.last == .closed(Self.client, end: .fin))
        #expect(accounting.waitingCount == 0)
    }

    @Test func aRecordNobodyClaimsFallsBackToItsWorkloadOrCountsAsUnattributed() {
        var accounting = KernelSocketAccounting(patience: .seconds(5))
        _ = accounting.closed(event(1, kind: FERRY_CONN_CAPTURED.rawValue, workload: 7), owner: nil, now: start)
        _ = accounting.closed(event(2, kind: FERRY_CONN_UPSTREAM.rawValue), owner: nil, now: start)
        let source = SocketOwner.pair(WorkloadPair(sourceWorkload: "client", sourceNamespace: "demo",
                                                   destinationWorkload: "unknown", destinationNamespace: "unknown"), .client)
        let observations = accounting.retry(now: start + .seconds(6), owner: { _ in nil }) { event in
            event.workloadIndex == 7 ? source : nil
        }
        #expect(observations.contains(.closed(source, end: .fin)))
        #expect(observations.filter { $0 == .unattributed }.count == 1)
        #expect(accounting.waitingCount == 0)
    }

    @Test func aSocketGoneWithoutARecordIsForgottenAfterTwoPasses() {
        var accounting = KernelSocketAccounting()
        _ = accounting.live(KernelSocketState(cookie: 1, srttSeconds: 0.01, retransmits: 4, connectSeconds: nil), owner: Self.client)
        accounting.passEnded(seen: [])
        // One pass later its record may still come: the count so far holds.
        #expect(accounting.closed(event(1, retransmits: 4), owner: Self.client, now: start).contains(.retransmits(Self.client, count: 4)) == false)
        _ = accounting.live(KernelSocketState(cookie: 2, srttSeconds: 0.01, retransmits: 4, connectSeconds: nil), owner: Self.client)
        accounting.passEnded(seen: [])
        accounting.passEnded(seen: [])
        // Forgotten: a record arriving this late counts in full.
        #expect(accounting.closed(event(2, retransmits: 4), owner: Self.client, now: start).contains(.retransmits(Self.client, count: 4)))
    }

    @Test func howItEndedAndTheMinimumRTTAreDecoded() {
        #expect(event(1, end: UInt8(FERRY_END_RST.rawValue)).end == .rst)
        #expect(event(1, end: UInt8(FERRY_END_TIMEOUT.rawValue)).end == .timeout)
        #expect(event(1, connectMicroseconds: nil).socket.connectSeconds == nil, "accepted sockets have no connect time")
        #expect(event(1).durationSeconds == 0.008)
    }

    @Test func aRecordOfAnotherSizeIsSkipped() {
        let short = [UInt8](repeating: 0, count: KernelCloseEvent.recordSize - 8)
        #expect(short.withUnsafeBytes { KernelCloseEvent(bytes: $0) } == nil)
        let long = [UInt8](repeating: 0, count: KernelCloseEvent.recordSize + 8)
        #expect(long.withUnsafeBytes { KernelCloseEvent(bytes: $0) } == nil)
        var raw = ferry_close_event()
        raw.cookie = 42
        #expect(withUnsafeBytes(of: raw) { KernelCloseEvent(bytes: $0) }?.cookie == 42)
    }

    @Test func theSeriesAreInBaseUnitsAndAPairThatNeverRetransmittedShowsZero() {
        let registry = PrometheusCollectorRegistry()
        let metrics = KernelSocketMetrics(registry: registry)
        metrics.record([.rtt(Self.client, seconds: 0.01), .connect(Self.client, seconds: 0.0003), .closed(Self.client, end: .rst)])
        metrics.record([.rtt(.node("node2"), seconds: 0.01)])
        let text = registry.emitToString()
        let labels = #"source_workload="client",source_workload_namespace="demo",destination_workload="echo",destination_workload_namespace="demo",leg="client""#
        #expect(text.contains("ferry_tcp_rtt_seconds_count{\(labels)} 1"))
        #expect(text.contains("ferry_tcp_rtt_seconds_bucket{\(labels),le=\"0.01\"} 1"))
        #expect(text.contains("ferry_tcp_retransmits_total{\(labels)} 0"))
        #expect(text.contains("ferry_tcp_connect_seconds_count{\(labels)} 1"))
        #expect(text.contains("ferry_tcp_socket_closes_total{\(labels),end=\"rst\"} 1"))
        #expect(text.contains("ferry_node_tcp_rtt_seconds_count{peer_node=\"node2\"} 1"))
        #expect(text.contains("ferry_node_tcp_retransmits_total{peer_node=\"node2\"} 0"))
        #expect(!text.contains("microseconds"))
    }
}

/// Who owns a socket, until its close record has come or the wait is over.
@Suite struct SocketOwnersTests {
    @Test func aReleasedSocketIsKeptForItsCloseRecordThenForgotten() {
        let owners = SocketOwners(retention: .seconds(120))
        let now = ContinuousClock.now
        owners.register(1, .node("node2"))
        owners.register(2, .node("node2"))
        owners.register(0, .node("node2"))
        #expect(owners.count == 2, "cookie 0 is not a socket")
        owners.release([1], now: now)
        owners.prune(now: now + .seconds(60))
        #expect(owners.owner(of: 1) == .node("node2"))
        owners.prune(now: now + .seconds(121))
        #expect(owners.owner(of: 1) == nil)
        #expect(owners.take(2) == .node("node2"), "never released: kept while the connection lives")
        #expect(owners.count == 0)
    }
}
