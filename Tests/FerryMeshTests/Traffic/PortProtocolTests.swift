import FerryMesh
import Foundation
import Testing

@Suite struct PortProtocolTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String?
        var appProtocol: String?
        var http: Bool
        var http2: Bool
        var testDescription: String { "name \(name ?? "-") appProtocol \(appProtocol ?? "-")" }
    }

    static let cases: [Case] = [
        Case(name: nil, appProtocol: "http", http: true, http2: false),
        Case(name: nil, appProtocol: "HTTP2", http: true, http2: true),
        Case(name: nil, appProtocol: "grpc", http: true, http2: true),
        Case(name: nil, appProtocol: "kubernetes.io/h2c", http: true, http2: true),
        Case(name: nil, appProtocol: "kubernetes.io/ws", http: true, http2: false),
        Case(name: nil, appProtocol: "grpc-web", http: true, http2: false),
        Case(name: "http", appProtocol: nil, http: true, http2: false),
        Case(name: "http-web", appProtocol: nil, http: true, http2: false),
        Case(name: "http2-api", appProtocol: nil, http: true, http2: true),
        Case(name: "grpc-api", appProtocol: nil, http: true, http2: true),
        // grpc-web keeps its hyphen, so it is not read as "grpc" (HTTP/2).
        Case(name: "grpc-web", appProtocol: nil, http: true, http2: false),
        Case(name: "grpc-web-ui", appProtocol: nil, http: true, http2: false),
        // Only the part before '-' counts: no prefix games.
        Case(name: "httpx", appProtocol: nil, http: false, http2: false),
        Case(name: "http2x-api", appProtocol: nil, http: false, http2: false),
        Case(name: "tcp-http", appProtocol: nil, http: false, http2: false),
        // appProtocol replaces the name, as in Istio.
        Case(name: "http", appProtocol: "tcp", http: false, http2: false),
        Case(name: "tcp", appProtocol: "http", http: true, http2: false),
        Case(name: nil, appProtocol: nil, http: false, http2: false),
    ]

    @Test(arguments: cases)
    func protocolFromAppProtocolOrName(_ c: Case) {
        let port = ServicePort(name: c.name, port: 80, appProtocol: c.appProtocol)
        #expect(port.isHTTP == c.http)
        #expect(port.isHTTP2 == c.http2)
    }

    /// The protocol is worked out once and kept; edits and decoding must not
    /// leave it stale.
    @Test func protocolFollowsEditsAndDecoding() throws {
        var port = ServicePort(name: "tcp", port: 80)
        #expect(!port.isHTTP)
        port.name = "http-web"
        #expect(port.isHTTP && !port.isHTTP2)
        port.appProtocol = "grpc"
        #expect(port.isHTTP && port.isHTTP2)
        let decoded = try JSONDecoder().decode(ServicePort.self, from: JSONEncoder().encode(port))
        #expect(decoded == port)
        #expect(decoded.isHTTP2)
    }
}
