import NIOCore

/// Tells HTTP/2 with prior knowledge (h2c, gRPC) from HTTP/1.x by the first
/// bytes a client sends, installs the matching server pipeline behind itself,
/// replays what it read and leaves.
final class HTTPVersionSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private var seen = ByteBuffer()
    private let install: (Channel, _ http2: Bool) throws -> Void

    init(install: @escaping (Channel, _ http2: Bool) throws -> Void) {
        self.install = install
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        seen.writeBuffer(&chunk)
        let bytes = seen.readableBytesView
        let compared = min(bytes.count, Self.preface.count)
        let matches = bytes.prefix(compared).elementsEqual(Self.preface.prefix(compared))
        if matches && compared < Self.preface.count { return }
        decide(context, http2: matches)
    }

    func channelReadComplete(context: ChannelHandlerContext) {}

    private func decide(_ context: ChannelHandlerContext, http2: Bool) {
        do {
            try install(context.channel, http2)
        } catch {
            context.close(promise: nil)
            return
        }
        let buffered = seen
        seen = ByteBuffer()
        context.fireChannelRead(NIOAny(buffered))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Still undecided at end of input: the client said nothing, or only the
        // start of the HTTP/2 preface. Nothing will follow; it gets nothing.
        if let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
