import NIOCore
import NIOHTTP1

/// gRPC over HTTP: a call's outcome is the `grpc-status` trailer (or header,
/// for a trailers-only answer), not the HTTP status. The agent's own answers
/// to a gRPC call take that form, as Envoy's local replies do, so a client
/// gets a real code and the reason as `grpc-message`.
enum GRPC {
    static func isCall(_ head: HTTPRequestHead) -> Bool {
        head.headers.first(name: "content-type")?.lowercased().hasPrefix("application/grpc") ?? false
    }

    /// The call's status as sent: trailers first, then the head (trailers-only).
    static func status(head: HTTPResponseHead, trailers: HTTPHeaders?) -> String? {
        trailers?.first(name: "grpc-status") ?? head.headers.first(name: "grpc-status")
    }

    /// gRPC's "HTTP to gRPC status code mapping", which clients apply to a
    /// non-gRPC answer; a 504 (the agent's timeouts) is DEADLINE_EXCEEDED, as
    /// Envoy answers its own upstream timeouts.
    static func code(forHTTPStatus status: Int) -> Int {
        switch status {
        case 400: 13  // INTERNAL
        case 401: 16  // UNAUTHENTICATED
        case 403: 7  // PERMISSION_DENIED
        case 404: 12  // UNIMPLEMENTED
        case 504: 4  // DEADLINE_EXCEEDED
        case 429, 502, 503: 14  // UNAVAILABLE
        default: 2  // UNKNOWN
        }
    }

    /// `grpc-message` is percent-encoded UTF-8: bytes outside printable
    /// ASCII, and '%' itself, become %XX.
    static func percentEncoded(_ message: String) -> String {
        var encoded = ""
        for byte in message.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return encoded
    }
}

extension ProxiedResponse {
    /// An answer the agent made itself (it names its reason in `ferry-reason`).
    var isLocal: Bool { head.headers.contains(name: "ferry-reason") }

    /// This local answer as a gRPC client expects it: HTTP 200, no message,
    /// and the status and reason in trailers.
    func asGRPCCall() -> ProxiedResponse {
        let reason = head.headers.first(name: "ferry-reason") ?? head.status.reasonPhrase
        var headers: HTTPHeaders = ["content-type": "application/grpc", "ferry-reason": reason]
        for (name, value) in head.headers where name.lowercased().hasPrefix("x-ferry-") { headers.add(name: name, value: value) }
        let trailers: HTTPHeaders = [
            "grpc-status": "\(GRPC.code(forHTTPStatus: Int(head.status.code)))",
            "grpc-message": GRPC.percentEncoded(reason),
        ]
        return ProxiedResponse(head: HTTPResponseHead(version: head.version, status: .ok, headers: headers), body: ByteBuffer(),
                               trailers: trailers)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
