import NIOCore

/// Keeps what an accepted connection delivers before it is wired. Reading is
/// off until then, but NIO still drains the socket when it sees the peer's FIN
/// (a client that writes and half-closes at once), and those bytes would fall off
/// the end of the pipeline. This handler holds them, then replays them to the
/// forwarder behind it and leaves.
final class InboundHold: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private var held: [ByteBuffer] = []
    private var inputClosed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        held.append(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Replays everything held to the handlers behind, then removes itself.
    static func release(_ channel: Channel) {
        guard let hold = try? channel.pipeline.syncOperations.handler(type: InboundHold.self),
              let context = try? channel.pipeline.syncOperations.context(handler: hold)
        else { return }
        let held = hold.held
        hold.held.removeAll()
        for buffer in held { context.fireChannelRead(NIOAny(buffer)) }
        if !held.isEmpty { context.fireChannelReadComplete() }
        if hold.inputClosed { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        channel.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
