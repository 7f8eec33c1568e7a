import NIOCore
import NIOHTTP1
import Synchronization

/// The rest of an HTTP body, passed from the channel it arrives on (the
/// producer) to the one it leaves by as it arrives, so an event stream, a
/// streaming gRPC call, an upload or a large download is never held whole.
/// Responses flow upstream → client, requests client → upstream; the two
/// channels may run on different event loops. Backpressure: the producer
/// stops reading while more than `highWatermark` bytes are received but not
/// yet written out.
final class BodyStream: Sendable {
    enum Event: Sendable {
        case body(ByteBuffer)
        case end(HTTPHeaders?)
        /// The producer went away mid-body.
        case failed
    }

    static let highWatermark = 1 << 20
    static let lowWatermark = 256 << 10

    private struct State {
        var queued = CircularBuffer<Event>()
        /// Received and not yet written to the client.
        var unwrittenBytes = 0
        var totalBytes = 0
        /// The trailers the body ended with.
        var trailers: HTTPHeaders?
        /// gRPC messages passed, when the body is a gRPC call's.
        var messages: GRPCMessageCounter?
        /// A timeout cut the body off.
        var expired = false
        var consumer: (loop: EventLoop, handle: @Sendable (Event) -> Void)?
        var deliveryScheduled = false
        var paused = false
        var closed = false
        var producerFinished: (@Sendable (Bool) -> Void)?
        /// Set when the producer finished before anyone asked.
        var producerResult: Bool?
        /// Every part is in (for a response: the connection is the pool's again).
        var producerDone = false
        var done: [@Sendable (Int) -> Void] = []
        /// A request's parts kept for a retry while they fit `replayLimit`;
        /// nil once past it (or for a response).
        var replay: [ByteBuffer]?
        var replayEnded = false
    }

    private let producer: Channel
    private let abandon: @Sendable (Channel) -> Void
    private let replayLimit: Int
    private let state = Mutex(State())

    /// `abandon` runs on the producer's loop when the body is cancelled
    /// before all of it came in. With `gRPCBodyStart` (the body's part that
    /// came before, perhaps empty), gRPC messages are counted from there.
    /// With `replayLimit`, the parts are also kept, up to that many bytes,
    /// so a request that ended within it can be sent again.
    private init(producer: Channel, gRPCBodyStart: ByteBuffer?, replayLimit: Int? = nil,
                 abandon: @escaping @Sendable (Channel) -> Void) {
        self.producer = producer
        self.abandon = abandon
        self.replayLimit = replayLimit ?? 0
        state.withLock { state in
            if replayLimit != nil { state.replay = [] }
            if let gRPCBodyStart {
                state.messages = GRPCMessageCounter()
                state.messages?.feed(gRPCBodyStart)
            }
        }
    }

    /// A response body from an upstream connection: dropping it closes the
    /// connection, which cannot carry another exchange mid-body.
    static func response(from upstream: Channel, gRPC: Bool = false) -> BodyStream {
        BodyStream(producer: upstream, gRPCBodyStart: gRPC ? ByteBuffer() : nil) { $0.close(promise: nil) }
    }

    /// A request body from a client: dropping it lets the client's channel
    /// read again, so the rest arrives and is discarded where it is read.
    /// Up to `replayLimit` bytes are kept for a retry (Envoy's retry buffer).
    static func request(from client: Channel, gRPCBodyStart: ByteBuffer? = nil, replayLimit: Int? = nil) -> BodyStream {
        BodyStream(producer: client, gRPCBodyStart: gRPCBodyStart, replayLimit: replayLimit) { channel in
            try? channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            channel.read()
        }
    }

    /// The whole body, once it has ended within the replay limit: a retry
    /// sends it again as a collected body. Nil while it is still coming, or
    /// when it outgrew the limit or failed.
    var replayableBody: (body: ByteBuffer, trailers: HTTPHeaders?)? {
        state.withLock { state in
            guard state.replayEnded, let parts = state.replay else { return nil }
            var body = ByteBuffer()
            body.reserveCapacity(parts.reduce(0) { $0 + $1.readableBytes })
            for var part in parts { body.writeBuffer(&part) }
            return (body, state.trailers)
        }
    }

    /// Whether a timeout cut the body off.
    var expired: Bool { state.withLock { $0.expired } }
    /// gRPC messages of the whole body so far; nil unless counted.
    var gRPCMessages: Int? { state.withLock { $0.messages?.messages } }

    /// Body bytes received so far.
    var receivedBytes: Int { state.withLock { $0.totalBytes } }
    /// The trailers the body ended with, once it has.
    var trailers: HTTPHeaders? { state.withLock { $0.trailers } }

    // MARK: producer side, on the producer channel's event loop

    func receive(_ event: Event) {
        let (pause, consumerLoop) = state.withLock { state -> (Bool, EventLoop?) in
            guard !state.closed else { return (false, nil) }
            switch event {
            case .body(let chunk):
                state.unwrittenBytes += chunk.readableBytes
                state.totalBytes += chunk.readableBytes
                state.messages?.feed(chunk)
                if state.replay != nil {
                    if state.totalBytes <= replayLimit { state.replay!.append(chunk) } else { state.replay = nil }
                }
            case .end(let trailers):
                state.trailers = trailers
                state.replayEnded = true
            case .failed:
                state.replay = nil
            }
            state.queued.append(event)
            let pause = !state.paused && state.unwrittenBytes > Self.highWatermark
            if pause { state.paused = true }
            guard let consumer = state.consumer, !state.deliveryScheduled else { return (pause, nil) }
            state.deliveryScheduled = true
            return (pause, consumer.loop)
        }
        if pause { try? producer.syncOptions?.setOption(ChannelOptions.autoRead, value: false) }
        consumerLoop?.execute { self.deliver() }
    }

    /// Every part has been received (`reusable`: the producer's connection
    /// can carry another exchange) or the producer failed.
    func finishProducer(reusable: Bool) {
        let callback = state.withLock { state in
            defer { state.producerFinished = nil }
            state.producerDone = true
            if state.producerFinished == nil { state.producerResult = reusable }
            return state.producerFinished
        }
        callback?(reusable)
    }

    /// Called once, when the producer is through (perhaps already): the pool
    /// takes an upstream connection back or closes it.
    func whenProducerFinished(_ callback: @escaping @Sendable (Bool) -> Void) {
        let finished = state.withLock { state -> Bool? in
            if state.producerResult == nil { state.producerFinished = callback }
            return state.producerResult
        }
        if let finished { callback(finished) }
    }

    // MARK: consumer side

    /// Delivers the parts, in order, on `loop`.
    func start(on loop: EventLoop, _ handle: @escaping @Sendable (Event) -> Void) {
        let schedule = state.withLock { state -> Bool in
            state.consumer = (loop, handle)
            guard !state.queued.isEmpty, !state.deliveryScheduled else { return false }
            state.deliveryScheduled = true
            return true
        }
        if schedule { loop.execute { self.deliver() } }
    }

    private func deliver() {
        let (events, handle) = state.withLock { state in
            defer { state.queued.removeAll(keepingCapacity: true) }
            state.deliveryScheduled = false
            return (Array(state.queued), state.consumer?.handle)
        }
        guard let handle else { return }
        for event in events {
            handle(event)
            if case .body = event { continue }
            finish()
        }
    }

    /// The consumer's socket took `bytes`: the producer may read again.
    func written(_ bytes: Int) {
        let resume = state.withLock { state -> Bool in
            state.unwrittenBytes -= bytes
            guard state.paused, state.unwrittenBytes < Self.lowWatermark, !state.closed else { return false }
            state.paused = false
            return true
        }
        guard resume else { return }
        let producer = self.producer
        producer.eventLoop.execute {
            try? producer.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            producer.read()
        }
    }

    /// Nobody will take the rest (a retry, a mirror, a client or upstream
    /// gone): the producer abandons it, unless the body was already all in
    /// (a response's connection may be back in the pool, carrying another
    /// request). Checked on the producer's loop, where the body's end is
    /// handled.
    func cancel() {
        let producer = self.producer
        producer.eventLoop.execute {
            if !self.state.withLock({ $0.producerDone }) { self.abandon(producer) }
        }
        finish()
    }

    /// A timeout passed with the body still coming: the consumer sees it
    /// fail (a client's connection or stream ends mid-body) and the producer
    /// abandons it. Nothing happens once every part is in.
    func expire() {
        let expiring = state.withLock { state -> Bool in
            guard !state.closed && !state.producerDone else { return false }
            state.expired = true
            return true
        }
        guard expiring else { return }
        receive(.failed)
        let producer = self.producer
        producer.eventLoop.execute {
            if !self.state.withLock({ $0.producerDone }) { self.abandon(producer) }
        }
    }

    /// Expires the body at `deadline` unless it has ended by then.
    func expire(at deadline: NIODeadline, on loop: EventLoop) {
        let task = loop.scheduleTask(deadline: deadline) { self.expire() }
        whenDone { _ in task.cancel() }
    }

    /// Runs `callback` with the body bytes received, once the body has ended,
    /// failed or been cancelled.
    func whenDone(_ callback: @escaping @Sendable (Int) -> Void) {
        let total = state.withLock { state -> Int? in
            if state.closed { return state.totalBytes }
            state.done.append(callback)
            return nil
        }
        if let total { callback(total) }
    }

    private func finish() {
        let (callbacks, total) = state.withLock { state in
            defer { state.done = []; state.closed = true; state.queued.removeAll() }
            return (state.closed ? [] : state.done, state.totalBytes)
        }
        for callback in callbacks { callback(total) }
    }
}
