import FerryMesh
import FerryPolicy
import Testing

/// The destinations the capture hook refuses plaintext to while ferryd is down.
@Suite struct MTLSOnlyDestinationsTests {
    typealias Peer = PeerAuthenticationResolverTests

    static let httpbinService = """
    apiVersion: v1
    kind: Service
    metadata: {name: httpbin, namespace: foo}
    spec: {clusterIP: 198.19.0.7, selector: {app: httpbin}, ports: [{name: http, port: 80, targetPort: 8000}, {name: metrics, port: 9090, targetPort: 80}]}
    """

    static func destinations(_ documents: [String]) throws -> MTLSOnlyDestinations {
        let state = try Fixtures.state(documents.joined(separator: "\n---\n"))
        return MTLSOnlyDestinations(state: state, peerAuthentication: PeerAuthenticationResolver(state: state))
    }

    @Test func permissiveMeshHasNone() throws {
        #expect(try Self.destinations([Self.httpbinService]).entries.isEmpty)
    }

    @Test func strictWorkloadsAndTheVIPPortsThatReachThem() throws {
        let found = try Self.destinations([Peer.httpbinStrict, Self.httpbinService])
        let httpbin = IPAddress("10.0.1.1")!, products = IPAddress("10.0.1.2")!, vip = IPAddress("198.19.0.7")!
        #expect(found.requiresMTLS(httpbin, port: 8000))
        #expect(found.requiresMTLS(httpbin, port: 22), "every port of a STRICT workload")
        #expect(!found.requiresMTLS(products, port: 8000))
        #expect(!found.requiresMTLS(IPAddress("10.0.2.1")!, port: 8000), "bar/httpbin is another namespace's")
        #expect(found.requiresMTLS(vip, port: 80))
        #expect(found.requiresMTLS(vip, port: 9090))
        #expect(!found.requiresMTLS(vip, port: 443), "a port the Service does not have")
    }

    @Test func portLevelExceptionsOverrideTheWorkload() throws {
        // Mesh STRICT, port 80 of foo/httpbin DISABLE: that port alone takes plaintext.
        let found = try Self.destinations([Peer.meshStrict, Peer.httpbinPort80Disabled, Self.httpbinService])
        let httpbin = IPAddress("10.0.1.1")!, vip = IPAddress("198.19.0.7")!
        #expect(!found.requiresMTLS(httpbin, port: 80))
        #expect(found.entries[.init(httpbin, port: 80)] == false)
        #expect(found.requiresMTLS(httpbin, port: 8000))
        #expect(found.requiresMTLS(IPAddress("10.0.1.2")!, port: 80), "products has no exception")
        #expect(found.requiresMTLS(vip, port: 80), "targets 8000, STRICT")
        #expect(!found.requiresMTLS(vip, port: 9090), "targets 80, the exception")
    }

    @Test func aStrictPortUnderAPermissiveWorkload() throws {
        let strict80 = Peer.peer("httpbin-80", namespace: "foo", selector: "{app: httpbin}", ports: "{80: {mode: STRICT}}")
        let found = try Self.destinations([strict80, Self.httpbinService])
        let httpbin = IPAddress("10.0.1.1")!
        #expect(found.requiresMTLS(httpbin, port: 80))
        #expect(!found.requiresMTLS(httpbin, port: 8000))
        #expect(found.entries[.init(httpbin, port: 0)] == nil)
        #expect(found.requiresMTLS(IPAddress("198.19.0.7")!, port: 9090))
    }
}
