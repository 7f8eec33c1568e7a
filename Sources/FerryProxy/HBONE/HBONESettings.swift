import NIOHTTP2

/// HTTP/2 settings of HBONE connections. One TLS connection carries every stream
/// of a (source identity, destination node) pair, so the stream limit is high,
/// and windows are large enough that flow control does not cap a single stream's
/// throughput on a fast network.
enum HBONESettings {
    static let maxConcurrentStreams = 10_000
    /// Per-stream window advertised to the peer.
    static let initialWindowSize = 4 << 20
    /// What NIO keeps each stream's receive window topped up to.
    static let targetWindowSize = 4 << 20
    /// The connection-level window. HTTP/2 starts every connection at 64 KiB,
    /// which alone caps one connection at 64 KiB per round trip (~3 Gbit/s here).
    static let connectionWindowSize = 32 << 20

    static var connection: NIOHTTP2Handler.ConnectionConfiguration {
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        configuration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: initialWindowSize),
            HTTP2Setting(parameter: .maxFrameSize, value: 1 << 16),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 64 << 10),
        ]
        // Every stream may end with an empty DATA frame carrying END_STREAM; with
        // hundreds of streams these arrive back to back.
        configuration.maximumSequentialEmptyDataFrames = 64
        configuration.targetWindowSize = connectionWindowSize
        return configuration
    }

    /// Between agents. Every tunnelled connection that ends abruptly (a workload
    /// resets it, or exits with it open) ends its stream with RST_STREAM, so a
    /// client closing a thousand connections at once sends a thousand. NIO's
    /// rapid-reset defaults (200 per 30 s) take that for an attack and tear down
    /// the connection with every other stream on it — the bench saw HTTP
    /// requests fail and stall that way. The peer is a mesh agent authenticated
    /// by mTLS, so the limits scale with the stream limit instead.
    static var peerConnection: NIOHTTP2Handler.ConnectionConfiguration {
        var configuration = connection
        configuration.maximumRecentlyResetStreams = 1024
        configuration.maximumConnectionGlitches = maxConcurrentStreams
        return configuration
    }

    static var peerStream: NIOHTTP2Handler.StreamConfiguration {
        var configuration = stream
        configuration.streamResetFrameRateLimit.maximumCount = 10 * maxConcurrentStreams
        configuration.streamErrorRateLimit.maximumCount = 10 * maxConcurrentStreams
        return configuration
    }

    static var stream: NIOHTTP2Handler.StreamConfiguration {
        var configuration = NIOHTTP2Handler.StreamConfiguration()
        configuration.targetWindowSize = targetWindowSize
        // A stream reads from its peer only while up to this much is queued to send.
        configuration.outboundBufferSizeHighWatermark = 256 << 10
        configuration.outboundBufferSizeLowWatermark = 64 << 10
        return configuration
    }
}
