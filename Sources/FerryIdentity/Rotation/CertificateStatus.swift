import Foundation

/// One identity's certificate as `/certificates` and `ferryctl certs` show it.
public struct CertificateStatus: Codable, Hashable, Sendable {
    public var identity: String
    /// Lowercase hex; empty while pending.
    public var serial: String
    public var notBefore: Date?
    public var notAfter: Date?
    /// "valid", "expiring" (renewal due or failing), "expired", "pending" (none
    /// yet) or "error: <reason>" (none yet, and the last request failed).
    public var state: String
    /// How many times the certificate was replaced by a newer one.
    public var rotations: Int
    /// The last failed request's reason, until a request succeeds.
    public var lastError: String?

    public init(identity: String, serial: String, notBefore: Date?, notAfter: Date?, state: String,
                rotations: Int, lastError: String?) {
        self.identity = identity
        self.serial = serial
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.state = state
        self.rotations = rotations
        self.lastError = lastError
    }
}
