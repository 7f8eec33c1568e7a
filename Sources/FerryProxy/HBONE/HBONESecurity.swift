import FerryMesh
import NIOCore

/// How HBONE connections are secured. The mesh uses mutual TLS with SPIFFE
/// certificates (`MeshTLSSecurity`); in-process tests use plaintext HTTP/2.
public protocol HBONESecurity: Sendable {
    /// Whether peers must prove a workload identity to open a tunnel.
    var authenticatesPeers: Bool { get }
    /// Adds the server side of the handshake to an accepted connection.
    func configureServer(_ channel: Channel) throws
    /// The verified workload identity of the peer of an accepted connection, once
    /// its handshake is done (called on the connection's event loop).
    func peerIdentity(of connection: Channel) -> SpiffeID?
    /// An accepted connection failed before any stream (usually its handshake).
    func connectionFailed(_ error: Error, peer: String)
    /// What a new connection from `source` to `node`'s agent needs in its
    /// pipeline; may wait for the source's certificate.
    func clientConfigurator(source: SpiffeID, node: String) async throws -> ClientConfigurator
}

/// Adds client-side handlers to a new connection (in the channel initializer).
public struct ClientConfigurator: Sendable {
    /// Distinguishes credentials: a rotated certificate gets new connections.
    public var generation: String
    public var configure: @Sendable (Channel) throws -> Void

    public init(generation: String, configure: @escaping @Sendable (Channel) throws -> Void) {
        self.generation = generation
        self.configure = configure
    }
}

/// Plaintext HTTP/2: for tests of the tunnel logic only, never used by ferryd.
public struct PlaintextHBONE: HBONESecurity {
    public var identity: SpiffeID?

    public init(claimedIdentity: SpiffeID? = nil) { identity = claimedIdentity }

    public var authenticatesPeers: Bool { false }
    public func configureServer(_ channel: Channel) throws {}
    public func connectionFailed(_ error: Error, peer: String) {}
    public func peerIdentity(of connection: Channel) -> SpiffeID? { identity }
    public func clientConfigurator(source: SpiffeID, node: String) async throws -> ClientConfigurator {
        ClientConfigurator(generation: "plaintext") { _ in }
    }
}
