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

extension HBONERequestTests {
    @Test(arguments: [
        ("for=198.18.0.1", "198.18.0.1"),
        ("for=\"198.18.0.1:4321\";host=echo.demo.svc.cluster.local", "198.18.0.1"),
        ("for=\"[2001:db8::1]:80\"", "2001:db8::1"),
        ("for=\"[2001:db8::1]\"", "2001:db8::1"),
        ("by=198.18.0.9;for=198.18.0.3", "198.18.0.3"),
    ])
    func forwardedForAsFerryAndZtunnelWriteIt(header: String, address: String) {
        #expect(HBONERequest.forwardedFor(header) == IPAddress(address))
    }

    @Test func forwardedGarbageIsNoAddress() {
        #expect(HBONERequest.forwardedFor("for=unknown") == nil)
        #expect(HBONERequest.forwardedFor("for=_hidden") == nil)
        #expect(HBONERequest.forwardedFor(";;;") == nil)
    }
}

/// A peer's `forwarded` address counts only for a workload of the identity its
/// certificate proves.
@Suite struct ClaimedSourceTests {
    static let state: MeshState = {
        let yaml = """
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: client, namespace: demo}
        spec: {address: 198.18.0.11, serviceAccount: client}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: other, namespace: demo}
        spec: {address: 198.18.0.12, serviceAccount: other}
        """
        return try! MeshState(resources: ResourceDecoder.decode(yaml: yaml, file: "w.yaml"), generation: 1)
    }()
    static let client = SpiffeID("spiffe://cluster.local/ns/demo/sa/client")
    static let peer = IPAddress("198.18.0.1")

    @Test func aClaimOfTheProvenIdentitysWorkloadCounts() {
        let source = ClaimedSource.resolve(claimed: IPAddress("198.18.0.11"), peerAddress: Self.peer, identity: Self.client, state: Self.state)
        #expect(source == .verified(IPAddress("198.18.0.11")!))
    }

    @Test func noClaimIsThePeer() {
        #expect(ClaimedSource.resolve(claimed: nil, peerAddress: Self.peer, identity: Self.client, state: Self.state) == .unclaimed(Self.peer))
    }

    @Test(arguments: [
        ("198.18.0.12", "no workload of spiffe://cluster.local/ns/demo/sa/client has that address"),
        ("198.18.0.99", "no workload has that address"),
    ])
    func anyOtherClaimIsRejectedForThePeersAddress(claimed: String, why: String) {
        let source = ClaimedSource.resolve(claimed: IPAddress(claimed), peerAddress: Self.peer, identity: Self.client, state: Self.state)
        #expect(source == .rejected(claimed: IPAddress(claimed)!, used: Self.peer, why: why))
        #expect(source.address == Self.peer)
    }

    @Test func withoutAProvenIdentityNoClaimCounts() {
        let source = ClaimedSource.resolve(claimed: IPAddress("198.18.0.11"), peerAddress: Self.peer, identity: nil, state: Self.state)
        #expect(source.address == Self.peer)
    }
}
