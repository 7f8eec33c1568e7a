import FerryTelemetry
import NIOCore

/// Joins two channels with a pair of `ByteForwarder`s and keeps the books: the
/// connection is registered when joined and reported when both ends are closed.
enum Splice {
    /// Same-loop join of two connected channels that are not reading yet.
    static func join(downstream: Channel, upstream: Channel, record: ConnectionRecord, context: ProxyContext) {
        downstream.eventLoop.assertInEventLoop()
        let (down, up) = forwarders(for: record)
        do {
            try downstream.pipeline.syncOperations.addHandler(down)
            try upstream.pipeline.syncOperations.addHandler(up)
        } catch {
            downstream.close(promise: nil)
            upstream.close(promise: nil)
            return
        }
        InboundHold.release(downstream)
        track(record, downstream: downstream, upstream: upstream, context: context)
        startReading(downstream)
        startReading(upstream)
    }

    /// The forwarder pair: the first goes on the source's channel (it counts bytes
    /// sent), the second on the destination's.
    static func forwarders(for record: ConnectionRecord) -> (ByteForwarder, ByteForwarder) {
        ByteForwarder.pair(countingA: record.sent, countingB: record.received)
    }

    /// Registers the connection and reports it once both ends are closed.
    static func track(_ record: ConnectionRecord, downstream: Channel, upstream: Channel, context: ProxyContext) {
        record.onClose { [downstream, upstream] in
            downstream.close(promise: nil)
            upstream.close(promise: nil)
        }
        context.connections.opened(record)
        downstream.closeFuture.and(upstream.closeFuture).whenComplete { _ in
            context.connections.closed(record)
            AccessLogEntry.connectionClosed(record, flags: .none, log: context.accessLog)
        }
    }

    /// Channels start with reading off so nothing is read before it has somewhere
    /// to go; this turns it on.
    static func startReading(_ channel: Channel) {
        channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in channel.close(promise: nil) }
    }
}

/// The access-log line for an L4 connection.
enum AccessLogEntry {
    static func connectionClosed(_ record: ConnectionRecord, flags: ResponseFlags, log: AccessLog) {
        guard log.isEnabled else { return }
        let snapshot = record.snapshot
        log.log([
            "type": "connection",
            "start_time": .string(record.startedAt.rfc3339),
            "duration_ms": .int(Int64(-record.startedAt.timeIntervalSinceNow * 1000)),
            "direction": .string(record.direction.rawValue),
            "route": .string(record.route.rawValue),
            "src_addr": AccessLogValue(snapshot.client),
            "src_workload": AccessLogValue(record.sourceWorkload),
            "src_identity": AccessLogValue(record.sourceIdentity),
            "dst_addr": .string(snapshot.destination),
            "dst_workload": AccessLogValue(record.destinationWorkload),
            "dst_identity": AccessLogValue(record.destinationIdentity),
            "dst_service": .string(record.labels.destinationService),
            "upstream": .string(snapshot.upstream),
            "bytes_sent": AccessLogValue(snapshot.bytesSent),
            "bytes_received": AccessLogValue(snapshot.bytesReceived),
            "response_flags": .string(flags.rawValue),
            "connection_security_policy": .string(record.labels.securityPolicy.rawValue),
        ])
    }
}
