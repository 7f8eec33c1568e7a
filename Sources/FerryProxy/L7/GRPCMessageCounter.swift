import NIOCore

/// Counts the messages of a gRPC body as its bytes pass, for Istio's
/// `istio_request_messages_total` and `istio_response_messages_total`. A
/// message is a 5-byte prefix (a compression flag, then its length as a
/// 32-bit big-endian number) and that many bytes; it counts once its last
/// byte has passed, however the body is cut into chunks.
struct GRPCMessageCounter: Sendable {
    private(set) var messages = 0
    /// Bytes of the current message's prefix seen so far; 5 once it is whole.
    private var prefixSeen = 0
    private var length = 0
    /// Payload bytes of the current message still to come.
    private var remaining = 0

    mutating func feed(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            var index = 0
            while index < bytes.count {
                if prefixSeen < 5 {
                    if prefixSeen > 0 { length = length << 8 | Int(bytes[index]) }
                    prefixSeen += 1
                    index += 1
                    if prefixSeen == 5 {
                        remaining = length
                        if remaining == 0 { finishMessage() }
                    }
                } else {
                    let taken = min(remaining, bytes.count - index)
                    remaining -= taken
                    index += taken
                    if remaining == 0 { finishMessage() }
                }
            }
        }
    }

    private mutating func finishMessage() {
        messages += 1
        prefixSeen = 0
        length = 0
    }

    static func count(_ body: ByteBuffer) -> Int {
        var counter = GRPCMessageCounter()
        counter.feed(body)
        return counter.messages
    }
}
