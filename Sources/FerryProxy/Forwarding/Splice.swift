import FerryTelemetry
import NIOCore

/// Joins two connected channels (on the same event loop) with a pair of
/// `ByteForwarder`s, registers the connection, and reports it when both ends
/// are closed.
enum Splice {
    static func join(downstream: Channel, upstream: Channel, record: ConnectionRecord, context: ProxyContext) {
        downstream.eventLoop.assertInEventLoop()
        let (down, up) = ByteForwarder.pair(countingA: record.sent, countingB: record.received)
        do {
            try downstream.pipeline.syncOperations.addHandler(down)
            try upstream.pipeline.syncOperations.addHandler(up)
        } catch {
            downstream.close(promise: nil)
            upstream.close(promise: nil)
            return
        }
        record.onClose { [downstream, upstream] in
            downstream.close(promise: nil)
            upstream.close(promise: nil)
        }
        context.connections.opened(record)
        downstream.closeFuture.and(upstream.closeFuture).whenComplete { _ in
            context.connections.closed(record)
            AccessLogEntry.connectionClosed(record, flags: .none, log: context.accessLog)
        }
        // Both sides start reading only now, so nothing is read before it has
        // somewhere to go.
        downstream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in downstream.close(promise: nil) }
        upstream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in upstream.close(promise: nil) }
    }
}

/// The access-log line for an L4 connection.
enum AccessLogEntry {
    static func connectionClosed(_ record: ConnectionRecord, flags: ResponseFlags, log: AccessLog) {
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
