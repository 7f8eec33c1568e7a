import NIOCore
import Synchronization

/// Byte counts of one direction pair, readable from any thread.
public final class ByteCounts: Sendable {
    /// Bytes read from this side (and written to the other).
    public let inbound = Atomic<UInt64>(0)

    public init() {}
}

/// Pumps bytes between two channels on the same event loop, one handler on each.
///
/// Backpressure: a side only reads while the other side is writable, so a slow
/// reader never makes ferryd buffer without bound. Half-close: end of input on
/// one side becomes a write shutdown on the other, and the connection ends when
/// both directions have. A reset or error on either side closes both.
final class ByteForwarder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: ByteForwarder?
    private var context: ChannelHandlerContext?
    private var readPending = false
    private let counts: ByteCounts

    private init(counts: ByteCounts) {
        self.counts = counts
    }

    /// Two handlers wired to each other; add one to each channel.
    static func pair(countingA: ByteCounts, countingB: ByteCounts) -> (ByteForwarder, ByteForwarder) {
        let a = ByteForwarder(counts: countingA)
        let b = ByteForwarder(counts: countingB)
        a.partner = b
        b.partner = a
        return (a, b)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    // MARK: Calls from the partner

    private func partnerWrite(_ data: ByteBuffer) {
        context?.write(wrapOutboundOut(data), promise: nil)
    }

    private func partnerFlush() {
        context?.flush()
    }

    /// Shuts our output once everything already queued is written: NIO fails
    /// pending writes on an output close, so wait for the last one first.
    private func partnerInputEnded() {
        guard let context else { return }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: written)
        written.futureResult.whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
    }

    private func partnerClosed() {
        context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if readPending {
            readPending = false
            context?.read()
        }
    }

    private var isWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: Events on our own channel

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        counts.inbound.wrappingAdd(UInt64(buffer.readableBytes), ordering: .relaxed)
        partner?.partnerWrite(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerClosed()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            partner?.partnerInputEnded()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partner?.isWritable ?? false {
            context.read()
        } else {
            readPending = true
        }
    }
}
