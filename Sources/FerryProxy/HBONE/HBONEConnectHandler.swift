import NIOCore
import NIOHPACK
import NIOHTTP2

/// The client end of an HBONE stream: sends the CONNECT request, waits for the
/// answer, and hands the stream over to the byte bridge on 200.
final class HBONEConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// How the peer answered a CONNECT that was not accepted.
    struct Refused: Error, CustomStringConvertible {
        var status: Int?
        var reason: String
        var description: String { status.map { "peer answered \($0): \(reason)" } ?? reason }
    }

    private let request: HBONERequest
    private let established: EventLoopPromise<Void>
    /// Called on the stream's loop as soon as the peer accepted, before any tunnel
    /// byte is delivered: adds the forwarder behind the bridge.
    private let wire: (Channel) throws -> Void
    private var state: State = .idle
    private var handoff = FrameHandoff()

    enum State { case idle, requested, done }

    init(request: HBONERequest, established: EventLoopPromise<Void>, wire: @escaping (Channel) throws -> Void) {
        self.request = request
        self.established = established
        self.wire = wire
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { sendRequest(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendRequest(context)
        context.fireChannelActive()
    }

    private func sendRequest(_ context: ChannelHandlerContext) {
        guard state == .idle else { return }
        state = .requested
        context.writeAndFlush(wrapOutboundOut(.headers(.init(headers: request.headers))), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        guard state == .requested else {
            handoff.hold(payload)
            return
        }
        switch payload {
        case .headers(let headers):
            let status = headers.headers.first(name: ":status").flatMap { Int($0) }
            guard status == 200 else {
                fail(context, Refused(status: status, reason: headers.headers.first(name: "ferry-reason") ?? "CONNECT refused"))
                return
            }
            state = .done
            do {
                try wire(context.channel)
            } catch {
                fail(context, error)
                return
            }
            established.succeed()
            handoff.release(context: context, removing: self)
        case .rstStream(let code):
            fail(context, Refused(status: nil, reason: "stream reset by peer (\(code))"))
        default:
            handoff.hold(payload)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if state != .done { fail(context, Refused(status: nil, reason: "stream closed before the peer answered")) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if state != .done { fail(context, error) } else { context.fireErrorCaught(error) }
    }

    private func fail(_ context: ChannelHandlerContext, _ error: Error) {
        guard state != .done else { return }
        state = .done
        established.fail(error)
        context.close(promise: nil)
    }
}
