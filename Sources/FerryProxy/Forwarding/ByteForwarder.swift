import NIOCore
import Synchronization

/// Byte counts of one direction pair, readable from any thread.
public final class ByteCounts: Sendable {
    /// Bytes read from this side (and written to the other).
    public let inbound = Atomic<UInt64>(0)

    public init() {}
}

/// Pumps bytes between two channels, one handler on each. The channels may live
/// on different event loops (an HBONE stream rides its TLS connection's loop);
/// calls to the partner then hop to the partner's loop, in order.
///
/// Backpressure: a side only reads while the other side is writable, so a slow
/// reader never makes ferryd buffer without bound. Half-close: end of input on
/// one side becomes a write shutdown on the other, and the connection ends when
/// both directions have. A reset or error on either side closes both.
final class ByteForwarder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let side: ForwardingPipe.Side
    private let pipe: ForwardingPipe
    private var partnerEnd: ForwardingPipe.End?
    private var context: ChannelHandlerContext?
    private var readPending = false
    /// Partner operations issued before the partner joined (bytes the kernel had
    /// already queued when the channel registered); replayed in order when it does.
    private var early: [@Sendable (ByteForwarder) -> Void] = []
    private let counts: ByteCounts

    private init(side: ForwardingPipe.Side, pipe: ForwardingPipe, counts: ByteCounts) {
        self.side = side
        self.pipe = pipe
        self.counts = counts
    }

    /// Two handlers wired to each other; add `a` to one channel and `b` to the
    /// other. `countingA` counts bytes read on a's channel.
    static func pair(countingA: ByteCounts, countingB: ByteCounts) -> (ByteForwarder, ByteForwarder) {
        let pipe = ForwardingPipe()
        return (ByteForwarder(side: .a, pipe: pipe, counts: countingA),
                ByteForwarder(side: .b, pipe: pipe, counts: countingB))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let partner = pipe.register(side, ForwardingPipe.End(
            channel: context.channel, handler: NIOLoopBound(self, eventLoop: context.eventLoop)
        ))
        // If the partner was first, it may hold operations meant for us.
        if let partner {
            partner.channel.eventLoop.execute { partner.handler.value.partnerJoined() }
        }
    }

    /// Runs what was issued for the partner before it existed.
    private func partnerJoined() {
        let queued = early
        early.removeAll()
        for operation in queued { toPartner(operation) }
        if readPending, partnerEnd?.channel.isWritable ?? pipe.partner(of: side)?.channel.isWritable ?? false {
            readPending = false
            context?.read()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Break the pipe ↔ handler cycle when the channel goes away.
        self.context = nil
        partnerEnd = nil
        pipe.register(side, nil)
    }

    /// Runs an operation on the partner, on the partner's event loop.
    private func toPartner(_ operation: @escaping @Sendable (ByteForwarder) -> Void) {
        if partnerEnd == nil { partnerEnd = pipe.partner(of: side) }
        guard let end = partnerEnd else {
            early.append(operation)
            return
        }
        if end.channel.eventLoop.inEventLoop {
            operation(end.handler.value)
        } else {
            end.channel.eventLoop.execute { operation(end.handler.value) }
        }
    }

    // MARK: Calls from the partner (on our loop)

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
        written.futureResult.assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
        }
    }

    /// The partner's channel is gone: deliver what is queued, signal end of
    /// stream, then close. (Closing at once would fail queued writes, and on an
    /// HTTP/2 stream turn a clean end into a reset.)
    private func partnerClosed() {
        guard let context else { return }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
            context.close(promise: nil)
        }
    }

    private func partnerBecameWritable() {
        if readPending {
            readPending = false
            context?.read()
        }
    }

    // MARK: Events on our own channel

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        counts.inbound.wrappingAdd(UInt64(buffer.readableBytes), ordering: .relaxed)
        toPartner { $0.partnerWrite(buffer) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        toPartner { $0.partnerFlush() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        toPartner { $0.partnerClosed() }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            toPartner { $0.partnerInputEnded() }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            toPartner { $0.partnerBecameWritable() }
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partnerEnd == nil { partnerEnd = pipe.partner(of: side) }
        // Channel.isWritable may be read from any thread.
        if partnerEnd?.channel.isWritable ?? false {
            context.read()
        } else {
            readPending = true
        }
    }
}

/// Where the two halves of a forwarding pair find each other.
final class ForwardingPipe: Sendable {
    enum Side: Sendable { case a, b }

    struct End: Sendable {
        let channel: Channel
        let handler: NIOLoopBound<ByteForwarder>
    }

    private let ends = Mutex<(a: End?, b: End?)>((nil, nil))

    /// Records (or clears) one side; returns the other side if it is there.
    @discardableResult
    func register(_ side: Side, _ end: End?) -> End? {
        ends.withLock { ends in
            if side == .a { ends.a = end } else { ends.b = end }
            return side == .a ? ends.b : ends.a
        }
    }

    func partner(of side: Side) -> End? {
        ends.withLock { side == .a ? $0.b : $0.a }
    }
}
