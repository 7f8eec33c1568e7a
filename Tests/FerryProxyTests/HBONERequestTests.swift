@testable import FerryProxy
import FerryMesh
import FerryTelemetry
import NIOHPACK
import Testing

@Suite struct HBONERequestTests {
    @Test func roundTripsAsZtunnelWritesIt() throws {
        let trace = TraceContext(traceID: String(repeating: "ab", count: 16), spanID: String(repeating: "cd", count: 8), sampled: true)
        let request = HBONERequest(authority: IPEndpoint("198.18.0.2:8080")!, forwardedFor: IPAddress("198.18.0.1"),
                                   trace: trace, baggage: ["k8s.namespace.name": "demo", "service.name": "client"])
        let headers = request.headers
        #expect(headers.first(name: ":method") == "CONNECT")
        #expect(headers.first(name: ":authority") == "198.18.0.2:8080")
        #expect(headers.first(name: "forwarded") == "for=198.18.0.1")
        #expect(headers.first(name: "traceparent") == "00-\(String(repeating: "ab", count: 16))-\(String(repeating: "cd", count: 8))-01")
        #expect(headers.first(name: "baggage") == "k8s.namespace.name=demo,service.name=client")
        #expect(try HBONERequest.parse(headers).get() == request)
    }

    @Test func ipv6Authority() throws {
        let headers: HPACKHeaders = [":method": "CONNECT", ":authority": "[2001:db8::2]:80", "forwarded": "for=\"[2001:db8::1]\""]
        let request = try HBONERequest.parse(headers).get()
        #expect(request.authority == IPEndpoint("[2001:db8::2]:80"))
        #expect(request.forwardedFor == IPAddress("2001:db8::1"))
    }

    @Test(arguments: [
        ([":method": "GET", ":authority": "198.18.0.2:80", ":path": "/", ":scheme": "https"], HBONERequest.Problem.notConnect(method: "GET")),
        ([":method": "CONNECT"], .missingAuthority),
        ([":method": "CONNECT", ":authority": "echo.demo:80"], .badAuthority("echo.demo:80")),
        ([":method": "CONNECT", ":authority": "198.18.0.2:80", ":path": "/x"], .unexpectedPseudoHeader(":path")),
    ] as [([String: String], HBONERequest.Problem)])
    func malformedRequestsAreRefusedWithAReason(fields: [String: String], problem: HBONERequest.Problem) {
        let headers = HPACKHeaders(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        #expect(throws: problem) { try HBONERequest.parse(headers).get() }
    }

    @Test func traceparentParsing() {
        #expect(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?.sampled == true)
        #expect(TraceContext(traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01") == nil)
        #expect(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7") == nil)
        #expect(TraceContext(traceparent: "zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") == nil)
        let parent = TraceContext.fresh()
        let child = parent.child()
        #expect(child.traceID == parent.traceID)
        #expect(child.spanID != parent.spanID)
    }
}
