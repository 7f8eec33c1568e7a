import NIOCore
import NIOHTTP2

/// Holds the DATA frames that arrive while a tunnel is being wired, and replays
/// them to the handlers behind once wiring is done, so no byte is lost or
/// reordered however the peer interleaves its frames with our setup.
struct FrameHandoff {
    private var held: [HTTP2Frame.FramePayload] = []

    mutating func hold(_ payload: HTTP2Frame.FramePayload) { held.append(payload) }

    /// Replays held frames behind `context`, then removes `handler`. The replay
    /// comes first: a removed handler's context forwards nothing.
    mutating func release(context: ChannelHandlerContext, removing handler: RemovableChannelHandler) {
        let frames = held
        held.removeAll()
        for frame in frames { context.fireChannelRead(NIOAny(frame)) }
        if !frames.isEmpty { context.fireChannelReadComplete() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
