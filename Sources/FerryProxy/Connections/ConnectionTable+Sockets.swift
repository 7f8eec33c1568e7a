import FerryTelemetry
import NIOCore

extension ConnectionTable {
    /// Claims a channel's socket for one leg of `record`'s workload pair once
    /// its cookie is known (one getsockopt, on the channel's loop).
    func claim(socketOf channel: Channel, leg: SocketLeg, for record: ConnectionRecord) {
        FerrySocketOptions.cookie(of: channel).whenSuccess { self.claim($0, leg: leg, for: record) }
    }
}
