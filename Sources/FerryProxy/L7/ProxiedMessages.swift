import NIOCore
import NIOHTTP1
import FerryTelemetry

/// The most of one HTTP body the proxy holds: a request or response that
/// announced a short Content-Length is collected whole (one that outgrows it
/// anyway gets 413 or 502); the rest are streamed (`BodyStream`).
enum HTTPBodyLimit {
    static let bytes = 64 << 20
    /// Bodies up to this size are collected whole when their length is known
    /// or they arrive at once: a whole request can be retried and mirrored.
    static let collected = 64 << 10
}

/// An HTTP request as the L7 proxy handles it: whole, or its start with the
/// rest of the body still arriving (an upload, a streaming gRPC call).
struct ProxiedRequest: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer
    var trailers: HTTPHeaders?
    /// The body that follows `body`, passed on as it arrives (then `trailers`
    /// is nil and the stream's end carries them). Such a request is not
    /// mirrored, and retried only as `replayable()` allows.
    var rest: BodyStream? = nil

    /// The body bytes in hand (all of them, unless `rest` follows).
    var bodySize: Int { body.readableBytes }
    /// The body size to report: what has arrived so far.
    var receivedBodyBytes: Int { bodySize + (rest?.receivedBytes ?? 0) }

    /// This request as it can be sent again: itself when whole; a streamed
    /// one collected, once its body has ended within `HTTPBodyLimit.collected`
    /// (a gRPC call whose message came a read after its headers, say); nil
    /// while the body is still coming or when it was larger.
    func replayable() -> ProxiedRequest? {
        guard let rest else { return self }
        guard let (more, trailers) = rest.replayableBody, bodySize + more.readableBytes <= HTTPBodyLimit.collected else { return nil }
        var whole = body
        var tail = more
        whole.writeBuffer(&tail)
        return ProxiedRequest(head: head, body: whole, trailers: trailers)
    }
}

/// An HTTP response: whole, or its start with the rest still arriving.
struct ProxiedResponse: Sendable {
    var head: HTTPResponseHead
    var body: ByteBuffer
    var trailers: HTTPHeaders?
    /// The body that follows `body`, passed on as it arrives (then `trailers`
    /// is nil and the stream's end carries them).
    var rest: BodyStream? = nil

    /// A response ferryd makes itself (403, 429, 503 …), with a header naming why.
    static func local(_ status: HTTPResponseStatus, reason: String, version: HTTPVersion = .http1_1,
                      extraHeaders: [(String, String)] = []) -> ProxiedResponse {
        var body = ByteBuffer(string: reason + "\n")
        var headers: HTTPHeaders = ["content-type": "text/plain", "content-length": "\(body.readableBytes)", "ferry-reason": reason]
        for (name, value) in extraHeaders { headers.add(name: name, value: value) }
        if status == .noContent || status == .notModified { body.clear() }
        return ProxiedResponse(head: HTTPResponseHead(version: version, status: status, headers: headers), body: body, trailers: nil)
    }

    /// An HTTPRoute RequestRedirect's answer: the status, `Location`, no body.
    static func redirect(_ status: HTTPResponseStatus, to location: String, version: HTTPVersion) -> ProxiedResponse {
        let headers: HTTPHeaders = ["location": location, "content-length": "0"]
        return ProxiedResponse(head: HTTPResponseHead(version: version, status: status, headers: headers), body: ByteBuffer(), trailers: nil)
    }
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) stay on their hop.
enum HopByHop {
    static let names: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// Drops hop-by-hop fields, and those the Connection header lists. One
    /// pass over the fields when there is nothing to drop, the usual case.
    static func strip(_ headers: inout HTTPHeaders) {
        guard headers.contains(where: { names.contains($0.name.lowercased()) }) else { return }
        let listed = Set(headers["connection"].flatMap { $0.split(separator: ",").map { $0.trimmingWhitespace().lowercased() } })
        // gRPC needs "te: trailers" end to end; it is the one TE value HTTP/2 allows.
        let keepTE = headers["te"].contains { $0.lowercased() == "trailers" }
        headers = HTTPHeaders(headers.filter { field in
            let name = field.name.lowercased()
            return !names.contains(name) && !listed.contains(name)
        })
        if keepTE { headers.add(name: "te", value: "trailers") }
    }
}
