import NIOCore
import NIOHTTP1

/// Why an upstream exchange did not produce a response; the retry policy and
/// the outlier detector tell these apart (connect failure, reset, timeout).
enum UpstreamFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case connectFailed(String)
    case reset(String)
    /// The connection was closed before any of the answer arrived: on a
    /// reused keep-alive connection, most likely closed by the server (an
    /// idle timeout, a policy change) as the request was handed to it.
    /// `sent` says whether any of the request was written.
    case closedBeforeAnswer(sent: Bool)
    case timedOut
    case overflow(String)
    /// The destination agent refused the tunnel under its own policy (HBONE
    /// 401 or 403): the request is denied, not the upstream broken.
    case denied(String)
    /// The response body passed the limit; the connection was closed.
    case responseTooLarge(Int)

    var description: String {
        switch self {
        case .connectFailed(let detail): "upstream connect failed: \(detail)"
        case .reset(let detail): "upstream reset: \(detail)"
        case .closedBeforeAnswer(let sent): "upstream closed the connection before answering (request \(sent ? "" : "not ")sent)"
        case .timedOut: "upstream request timed out"
        case .overflow(let detail): "upstream overflow: \(detail)"
        case .denied(let reason): "denied by the destination: \(reason)"
        case .responseTooLarge(let limit): "upstream response body over \(limit) bytes"
        }
    }
}

/// One request/response exchange on an upstream channel speaking HTTP/1 parts
/// (an HTTP/1.1 connection, or an HTTP/2 stream behind NIO's HTTP/2→HTTP/1
/// client codec). One exchange at a time: HTTP/1.1 upstreams are not pipelined.
final class UpstreamExchange: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Never
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: EventLoopPromise<ProxiedResponse>?
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()
    private var context: ChannelHandlerContext?
    /// False once the channel closed or the peer asked to close.
    private(set) var reusable = true
    private let maxBodySize: Int
    /// The response whose body is being passed on as it arrives.
    private var streaming: BodyStream?
    /// The request whose body is being sent as it arrives.
    private var sending: BodyStream?
    private var answeringHEAD = false
    private var answeringGRPC = false

    init(maxBodySize: Int = HTTPBodyLimit.bytes) {
        self.maxBodySize = maxBodySize
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Sends a request; must be called on the channel's event loop.
    func send(_ request: ProxiedRequest, on eventLoop: EventLoop) -> EventLoopFuture<ProxiedResponse> {
        guard let context else {
            return eventLoop.makeFailedFuture(UpstreamFailure.closedBeforeAnswer(sent: false))
        }
        let promise = context.eventLoop.makePromise(of: ProxiedResponse.self)
        guard pending == nil, reusable, context.channel.isActive else {
            promise.fail(UpstreamFailure.closedBeforeAnswer(sent: false))
            return promise.futureResult
        }
        pending = promise
        head = nil
        answeringHEAD = request.head.method == .HEAD
        answeringGRPC = GRPC.isCall(request.head)
        body = context.channel.allocator.buffer(capacity: 0)
        context.write(wrapOutboundOut(.head(Self.framed(request))), promise: nil)
        if request.bodySize > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(request.body))), promise: nil) }
        if let rest = request.rest {
            context.flush()
            sendRest(rest, context: context)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(request.trailers)), promise: nil)
        }
        return promise.futureResult
    }

    /// The head with its body's framing: a whole body's own length; a
    /// streamed one keeps the length the client announced, or goes chunked
    /// (HTTP/1.1) or to END_STREAM (HTTP/2) without one.
    static func framed(_ request: ProxiedRequest) -> HTTPRequestHead {
        var head = request.head
        head.headers.remove(name: "transfer-encoding")
        if request.rest != nil {
            if !head.headers.contains(name: "content-length") && head.version.major < 2 {
                head.headers.add(name: "transfer-encoding", value: "chunked")
            }
            return head
        }
        head.headers.remove(name: "content-length")
        if request.trailers == nil || head.version.major >= 2 {
            if request.bodySize > 0 || !["GET", "HEAD", "DELETE", "OPTIONS"].contains(head.method.rawValue) {
                head.headers.add(name: "content-length", value: "\(request.bodySize)")
            }
        } else {
            head.headers.add(name: "transfer-encoding", value: "chunked")
        }
        return head
    }

    /// Passes the rest of a request body on as it arrives; each part counts
    /// as written (for the client's backpressure) once the socket took it.
    /// The response may come before the body ends (a bidirectional stream,
    /// an early error).
    private func sendRest(_ rest: BodyStream, context: ChannelHandlerContext) {
        sending = rest
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        rest.start(on: context.eventLoop) { event in
            let (this, context) = bound.value
            guard this.sending === rest else { return }
            switch event {
            case .body(let chunk):
                let size = chunk.readableBytes
                context.writeAndFlush(this.wrapOutboundOut(.body(.byteBuffer(chunk)))).whenComplete { _ in rest.written(size) }
            case .end(let trailers):
                this.sending = nil
                context.writeAndFlush(this.wrapOutboundOut(.end(trailers)), promise: nil)
            case .failed:
                // The client went away mid-body: the upstream must not take it as complete.
                this.sending = nil
                this.fail(UpstreamFailure.reset("client went away mid-request"), context: context)
            }
        }
    }

    /// The response is complete while the request body is still coming: the
    /// rest is dropped, and an HTTP/1.1 connection, left mid-request, closes.
    private func abandonSending() {
        guard let sending else { return }
        self.sending = nil
        reusable = false
        sending.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let responseHead):
            // 1xx (but not 101) are interim: wait for the final head.
            if responseHead.status.code >= 100 && responseHead.status.code < 200 && responseHead.status.code != 101 { return }
            head = responseHead
            if !responseHead.isKeepAlive { reusable = false }
            if let pending, streams(responseHead) {
                let stream = BodyStream.response(from: context.channel, gRPC: answeringGRPC)
                streaming = stream
                self.pending = nil
                pending.succeed(ProxiedResponse(head: responseHead, body: body, trailers: nil, rest: stream))
            }
        case .body(var chunk):
            if let streaming { return streaming.receive(.body(chunk)) }
            guard pending != nil else { return }
            guard body.readableBytes + chunk.readableBytes <= maxBodySize else {
                // The rest of the body has nowhere to go: the connection cannot be reused.
                fail(UpstreamFailure.responseTooLarge(maxBodySize), context: context)
                return
            }
            body.writeBuffer(&chunk)
        case .end(let trailers):
            abandonSending()
            if let streaming {
                self.streaming = nil
                head = nil
                streaming.receive(.end(trailers))
                // Backpressure may have stopped reading just before the end; the
                // connection goes back to the pool and must read its next answer.
                try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
                streaming.finishProducer(reusable: reusable && context.channel.isActive)
                return
            }
            guard let head, let pending else { return }
            self.head = nil
            self.pending = nil
            pending.succeed(ProxiedResponse(head: head, body: body, trailers: trailers))
        }
    }

    /// Whether the body follows as it arrives rather than whole: responses
    /// up to `HTTPBodyLimit.collected` (by Content-Length) are collected,
    /// which costs least; longer ones, and those whose length is unknown
    /// (chunked: event streams, gRPC), are streamed.
    private func streams(_ head: HTTPResponseHead) -> Bool {
        guard !answeringHEAD, head.status.mayHaveResponseBody else { return false }
        guard let length = head.headers.first(name: "content-length").flatMap(Int.init) else { return true }
        return length > HTTPBodyLimit.collected
    }

    private func failStreaming() {
        guard let streaming else { return }
        self.streaming = nil
        streaming.receive(.failed)
        streaming.finishProducer(reusable: false)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failStreaming()
        abandonSending()
        reusable = false
        pending?.fail(head == nil ? UpstreamFailure.closedBeforeAnswer(sent: true) : .reset("upstream closed the connection mid-exchange"))
        pending = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(UpstreamFailure.reset("\(error)"), context: context)
    }

    /// The upstream sent its FIN (the channel allows half-closure): an idle
    /// keep-alive connection the server timed out, or one closed mid-answer.
    /// The decoder has already passed on any answer the FIN completed, so
    /// whatever is still open failed; the connection closes and leaves the
    /// pool rather than waiting, half-open, to be handed the next request.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            fail(head == nil ? .closedBeforeAnswer(sent: true) : .reset("upstream closed the connection mid-exchange"), context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func fail(_ failure: UpstreamFailure, context: ChannelHandlerContext) {
        failStreaming()
        abandonSending()
        reusable = false
        head = nil
        body = ByteBuffer()
        pending?.fail(failure)
        pending = nil
        context.close(promise: nil)
    }

    var isIdle: Bool { pending == nil && streaming == nil && sending == nil && reusable && (context?.channel.isActive ?? false) }
}
