import FerryMesh
import FerryPolicy
import FerryTelemetry
import Foundation
import NIOCore
import Synchronization

/// How a connection leaves ferryd.
public enum RouteKind: String, Sendable, Codable {
    /// To a destination outside the mesh, as it asked.
    case passthrough
    /// To a workload on this node, without a TLS hop.
    case local
    /// Through an HBONE tunnel to another node's agent.
    case hbone
    /// Arrived over HBONE (or plaintext) for a workload on this node.
    case inbound
    /// Requests to an HTTP Service port, routed one by one (L7).
    case http
}

/// One connection ferryd is carrying: what the admin API lists, what policy
/// updates re-check, and what metrics are reported from.
public final class ConnectionRecord: Sendable {
    public let id: UInt64
    public let direction: Direction
    public let route: RouteKind
    public let startedAt: Date
    /// The workload socket's address as ferryd's accepted socket sees the peer.
    public let client: IPEndpoint?
    /// Where the source asked to go (original destination or HBONE authority).
    public let destination: IPEndpoint
    /// Where ferryd actually connected.
    public let upstream: IPEndpoint
    public let sourceWorkload: String?
    public let destinationWorkload: String?
    public let sourceIdentity: String?
    public let destinationIdentity: String?
    public let labels: TrafficLabels
    /// What authorization decided on (inbound side): re-checked when policy changes.
    public let authorization: AuthorizationRequest?
    /// Bytes from the source toward the destination, and back.
    public let sent: ByteCounts
    public let received: ByteCounts
    /// HTTP requests carried (L7 ports).
    public let requests = Atomic<UInt64>(0)
    /// Kernel socket cookies of ferryd's two sockets (0 when unknown).
    public let downstreamCookie = Atomic<UInt64>(0)
    public let upstreamCookie = Atomic<UInt64>(0)
    /// Sockets whose kernel numbers count for this connection's workload pair
    /// (`ConnectionTable.claim`), released when it closes.
    let claimedSockets = Mutex<[UInt64]>([])
    /// Set once the connection has closed or failed: a socket claimed later is released at once.
    let socketsReleased = Atomic<Bool>(false)
    /// Bytes already added to the Prometheus counters.
    let reportedSent = Atomic<UInt64>(0)
    let reportedReceived = Atomic<UInt64>(0)
    /// Closes both ends; set once the connection is wired.
    private let closer = Mutex<(@Sendable () -> Void)?>(nil)

    public enum Direction: String, Sendable, Codable {
        case outbound
        case inbound
    }

    init(id: UInt64, direction: Direction, route: RouteKind, client: IPEndpoint?, destination: IPEndpoint,
         upstream: IPEndpoint, sourceWorkload: String?, destinationWorkload: String?,
         sourceIdentity: String?, destinationIdentity: String?, labels: TrafficLabels,
         authorization: AuthorizationRequest? = nil, sharingCountsWith other: ConnectionRecord? = nil) {
        self.authorization = authorization
        self.id = id
        // The same-node path reports one connection from both ends (source and
        // destination reporters) over the same bytes.
        self.sent = other?.sent ?? ByteCounts()
        self.received = other?.received ?? ByteCounts()
        self.direction = direction
        self.route = route
        self.startedAt = Date()
        self.client = client
        self.destination = destination
        self.upstream = upstream
        self.sourceWorkload = sourceWorkload
        self.destinationWorkload = destinationWorkload
        self.sourceIdentity = sourceIdentity
        self.destinationIdentity = destinationIdentity
        self.labels = labels
    }

    func onClose(_ close: @escaping @Sendable () -> Void) {
        closer.withLock { $0 = close }
    }

    /// Closes the connection (a policy no longer allows it, or shutdown).
    public func close() {
        let close = closer.withLock { $0 }
        close?()
    }

    /// What the admin API shows.
    public struct Snapshot: Codable, Sendable {
        public var id: UInt64
        public var direction: Direction
        public var route: RouteKind
        public var client: String?
        public var destination: String
        public var upstream: String
        public var sourceWorkload: String?
        public var destinationWorkload: String?
        public var sourceIdentity: String?
        public var destinationIdentity: String?
        public var bytesSent: UInt64
        public var bytesReceived: UInt64
        public var requests: UInt64
        public var startedAt: Date
        public var downstreamCookie: UInt64
        public var upstreamCookie: UInt64
    }

    public var snapshot: Snapshot {
        Snapshot(
            id: id, direction: direction, route: route, client: client?.description,
            destination: destination.description, upstream: upstream.description,
            sourceWorkload: sourceWorkload, destinationWorkload: destinationWorkload,
            sourceIdentity: sourceIdentity, destinationIdentity: destinationIdentity,
            bytesSent: sent.inbound.load(ordering: .relaxed), bytesReceived: received.inbound.load(ordering: .relaxed),
            requests: requests.load(ordering: .relaxed), startedAt: startedAt, downstreamCookie: downstreamCookie.load(ordering: .relaxed),
            upstreamCookie: upstreamCookie.load(ordering: .relaxed)
        )
    }
}
