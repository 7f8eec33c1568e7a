import Foundation
import NIOCore
import NIOHTTP1

/// A whole HTTP/1.1 request as the control-plane endpoints see it.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    public var uri: String
    public var headers: HTTPHeaders
    public var body: ByteBuffer
    public var remoteAddress: SocketAddress?
    /// The client certificate's DER, when the listener does mutual TLS.
    public var peerCertificateDER: [UInt8]?

    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer(),
                remoteAddress: SocketAddress? = nil, peerCertificateDER: [UInt8]? = nil) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.peerCertificateDER = peerCertificateDER
    }

    public var path: String { String(uri.split(separator: "?", maxSplits: 1).first ?? "") }

    public var query: [String: String] {
        guard let components = URLComponents(string: uri) else { return [:] }
        var result: [String: String] = [:]
        for item in components.queryItems ?? [] { result[item.name] = item.value ?? "" }
        return result
    }

    public var bodyBytes: [UInt8] { Array(body.readableBytesView) }
}

public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func text(_ text: String, status: HTTPResponseStatus = .ok,
                            contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["content-type": contentType], body: ByteBuffer(string: text))
    }

    public static func json<T: Encodable>(_ value: T, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        do {
            let data = try encoder.encode(value)
            return HTTPResponse(status: status, headers: ["content-type": "application/json"], body: ByteBuffer(bytes: data))
        } catch {
            return .error(.internalServerError, "cannot encode response: \(error)")
        }
    }

    /// A JSON error body: {"error": "..."}.
    public static func error(_ status: HTTPResponseStatus, _ message: String) -> HTTPResponse {
        json(["error": message], status: status)
    }
}

public typealias HTTPHandler = @Sendable (HTTPRequest) async -> HTTPResponse
