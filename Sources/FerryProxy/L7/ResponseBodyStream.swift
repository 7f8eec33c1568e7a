import NIOCore
import NIOHTTP1
import Synchronization

/// The rest of a response body, passed from the upstream channel to the
/// client's as it arrives, so an event stream, a streaming gRPC call or a large
/// download is never held whole. The two channels may run on different event
/// loops. Backpressure: the upstream stops reading while more than
/// `highWatermark` bytes are received but not yet written to the client.
final class ResponseBodyStream: Sendable {
    enum Event: Sendable {
        case body(ByteBuffer)
        case end(HTTPHeaders?)
        /// The upstream went away mid-body.
        case failed
    }

    static let highWatermark = 1 << 20
    static let lowWatermark = 256 << 10

    private struct State {
        var queued = CircularBuffer<Event>()
        /// Received and not yet written to the client.
        var unwrittenBytes = 0
        var totalBytes = 0
        var consumer: (loop: EventLoop, handle: @Sendable (Event) -> Void)?
        var deliveryScheduled = false
        var paused = false
        var closed = false
        var upstreamFinished: (@Sendable (Bool) -> Void)?
        /// Set when the upstream finished before anyone asked.
        var upstreamResult: Bool?
        /// Every part is in: the connection is the pool's again.
        var upstreamDone = false
        var done: [@Sendable (Int) -> Void] = []
    }

    private let upstream: Channel
    private let state = Mutex(State())

    init(upstream: Channel) {
        self.upstream = upstream
    }

    // MARK: upstream side, on the upstream channel's event loop

    func receive(_ event: Event) {
        let (pause, consumerLoop) = state.withLock { state -> (Bool, EventLoop?) in
            guard !state.closed else { return (false, nil) }
            if case .body(let chunk) = event {
                state.unwrittenBytes += chunk.readableBytes
                state.totalBytes += chunk.readableBytes
            }
            state.queued.append(event)
            let pause = !state.paused && state.unwrittenBytes > Self.highWatermark
            if pause { state.paused = true }
            guard let consumer = state.consumer, !state.deliveryScheduled else { return (pause, nil) }
            state.deliveryScheduled = true
            return (pause, consumer.loop)
        }
        if pause { try? upstream.syncOptions?.setOption(ChannelOptions.autoRead, value: false) }
        consumerLoop?.execute { self.deliver() }
    }

    /// Every part has been received (`reusable`: the connection can carry
    /// another exchange) or the upstream failed.
    func finishUpstream(reusable: Bool) {
        let callback = state.withLock { state in
            defer { state.upstreamFinished = nil }
            state.upstreamDone = true
            if state.upstreamFinished == nil { state.upstreamResult = reusable }
            return state.upstreamFinished
        }
        callback?(reusable)
    }

    /// Called once, when the upstream side is through (perhaps already): the
    /// pool takes the connection back or closes it.
    func whenUpstreamFinished(_ callback: @escaping @Sendable (Bool) -> Void) {
        let finished = state.withLock { state -> Bool? in
            if state.upstreamResult == nil { state.upstreamFinished = callback }
            return state.upstreamResult
        }
        if let finished { callback(finished) }
    }

    // MARK: client side

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

    /// The client's socket took `bytes`: reading upstream may resume.
    func written(_ bytes: Int) {
        let resume = state.withLock { state -> Bool in
            state.unwrittenBytes -= bytes
            guard state.paused, state.unwrittenBytes < Self.lowWatermark, !state.closed else { return false }
            state.paused = false
            return true
        }
        guard resume else { return }
        let upstream = self.upstream
        upstream.eventLoop.execute {
            try? upstream.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
            upstream.read()
        }
    }

    /// Nobody will read the rest (a retry, a mirror, a client gone): the
    /// upstream connection closes, unless the body was already all in and the
    /// connection back in the pool, perhaps carrying another request. Checked
    /// on the upstream's loop, where the body's end is handled.
    func cancel() {
        let upstream = self.upstream
        upstream.eventLoop.execute {
            if !self.state.withLock({ $0.upstreamDone }) { upstream.close(promise: nil) }
        }
        finish()
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
