@testable import FerryProxy
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

/// The first bytes decide between HTTP/1 and HTTP/2 with prior knowledge; a
/// client that leaves before they decide is closed, not kept half-open.
@Suite struct HTTPVersionSnifferTests {
    private func sniff(_ bytes: String) throws -> (EmbeddedChannel, Bool?) {
        let decided = Mutex<Bool?>(nil)
        let channel = EmbeddedChannel(handler: HTTPVersionSniffer { _, http2 in decided.withLock { $0 = http2 } })
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        try channel.writeInbound(ByteBuffer(string: bytes))
        return (channel, decided.withLock { $0 })
    }

    @Test func thePrefaceMeansHTTP2AndAnythingElseHTTP1() throws {
        #expect(try sniff("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").1 == true)
        #expect(try sniff("POST / HTTP/1.1\r\n").1 == false, "decided at the first byte that differs")
        #expect(try sniff("PRI * HTTP/2").1 == nil, "half a preface: wait for more")
    }

    @Test func aClientThatLeavesUndecidedIsClosed() throws {
        for start in ["", "PRI * HTTP/2"] {
            let (channel, decided) = try sniff(start)
            #expect(decided == nil)
            channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            channel.embeddedEventLoop.run()
            #expect(!channel.isActive, "after \(start.debugDescription)")
        }
    }
}
