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
}
