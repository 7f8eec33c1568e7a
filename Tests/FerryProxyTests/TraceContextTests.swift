import FerryTelemetry
import Testing

@Suite struct TraceContextTests {
    @Test func freshIdsAreLowercaseHexOfTheRightLengthAndParseBack() throws {
        var traceIDs = Set<String>()
        for _ in 0..<200 {
            let trace = TraceContext.fresh()
            #expect(trace.traceID.count == 32 && trace.spanID.count == 16)
            #expect((trace.traceID + trace.spanID).allSatisfy { "0123456789abcdef".contains($0) })
            #expect(TraceContext(traceparent: trace.traceparent) == trace)
            traceIDs.insert(trace.traceID)
        }
        #expect(traceIDs.count == 200)
    }

    @Test func aChildKeepsTheTraceAndGetsItsOwnSpan() throws {
        let parent = try #require(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        let child = parent.child()
        #expect(child.traceID == parent.traceID && child.sampled)
        #expect(child.spanID != parent.spanID && child.spanID.count == 16)
    }

    @Test(arguments: [
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true),
        (" 00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-00\t", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", false),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true),
    ])
    func parsesTraceparent(header: String, trace: String, span: String, sampled: Bool) throws {
        let parsed = try #require(TraceContext(traceparent: header))
        #expect(parsed == TraceContext(traceID: trace, spanID: span, sampled: sampled))
    }

    @Test(arguments: [
        "", "00", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // version 00 has exactly four fields
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",        // version ff is invalid
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",        // all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",        // all-zero span id
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",        // not hex
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    ])
    func refusesMalformedTraceparent(header: String) {
        #expect(TraceContext(traceparent: header) == nil, "\(header)")
    }

    @Test func trimmingWhitespace() {
        #expect("  a b \n".trimmingWhitespace() == "a b")
        #expect(" \t ".trimmingWhitespace() == "")
        #expect("x".trimmingWhitespace() == "x")
    }
}
