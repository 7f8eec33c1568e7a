import NIOCore

/// Ends a plaintext HTTP/2 connection (h2c from a client, or to an h2c
/// endpoint) that cannot carry more: after a protocol error, once NIO's
/// HTTP/2 handler has sent its GOAWAY, and when the peer has sent its FIN.
/// Ferry's sockets allow half-closure for the byte paths, but an HTTP/2
/// connection has no half-closed state of its own, and left alone it would
/// sit in CLOSE-WAIT, holding a descriptor, for as long as the agent runs.
final class HTTP2ConnectionEnd: ChannelInboundHandler {
    typealias InboundIn = Any

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
