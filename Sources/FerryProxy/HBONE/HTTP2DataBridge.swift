import NIOCore
import NIOHTTP2

/// Turns an HTTP/2 stream into a byte stream, so the same `ByteForwarder` that
/// joins two TCP sockets joins a socket and an HBONE stream: DATA frames become
/// ByteBuffers, END_STREAM becomes end of input, and an output close becomes an
/// empty DATA frame with END_STREAM.
final class HTTP2DataBridge: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    private var inputEnded = false
    private var outputEnded = false
    /// A full close ends the stream with END_STREAM (after what was written)
    /// rather than a reset: set where the stream carries HTTP whose server
    /// side closes the connection after its last answer (`InboundRequestGate`).
    /// A byte splice keeps the reset, which says its other end failed.
    var endsStreamOnClose = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .data(let frame):
            if case .byteBuffer(let buffer) = frame.data, buffer.readableBytes > 0 {
                context.fireChannelRead(wrapInboundOut(buffer))
            }
            if frame.endStream { endInput(context) }
        case .headers(let headers):
            // Trailers end the stream; other header blocks have no place mid-tunnel.
            if headers.endStream { endInput(context) }
        case .rstStream:
            context.close(promise: nil)
        default:
            break
        }
    }

    private func endInput(_ context: ChannelHandlerContext) {
        guard !inputEnded else { return }
        inputEnded = true
        context.fireChannelReadComplete()
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        if outputEnded { context.close(promise: nil) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        // Empty writes are flush markers from the forwarder; as frames they would
        // trip the peer's empty-DATA flood protection. Stream writes are ordered,
        // so nothing is lost by answering them at once.
        guard buffer.readableBytes > 0 else {
            promise?.succeed()
            return
        }
        // After END_STREAM a DATA frame is a protocol error; there is nowhere to send it.
        guard !outputEnded else {
            promise?.fail(ChannelError.outputClosed)
            return
        }
        context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(buffer)))), promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all && endsStreamOnClose && !outputEnded {
            outputEnded = true
            context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)))).whenComplete { _ in
                context.close(mode: .all, promise: promise)
            }
            return
        }
        guard mode == .output else {
            context.close(mode: mode, promise: promise)
            return
        }
        guard !outputEnded else {
            promise?.succeed()
            return
        }
        outputEnded = true
        context.writeAndFlush(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: promise)
        // Both directions done: the stream is complete.
        if inputEnded { context.close(promise: nil) }
    }
}
