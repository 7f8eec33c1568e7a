import Foundation

/// When to ask again, and what to call a certificate's condition: pure, so it is
/// tested without waiting.
public struct RenewalSchedule: Sendable, Hashable {
    /// First retry after a failure; doubled per further failure.
    public var retryInitial: Duration
    public var retryMaximum: Duration

    public init(retryInitial: Duration = .milliseconds(500), retryMaximum: Duration = .seconds(30)) {
        self.retryInitial = retryInitial
        self.retryMaximum = retryMaximum
    }

    /// Exponential backoff with ±20% jitter, so agents that lost the CA together
    /// do not all come back in the same instant.
    public func retryDelay(failures: Int, jitter: Double = Double.random(in: -0.2...0.2)) -> Duration {
        let exponent = min(max(failures - 1, 0), 30)
        let base = min(retryInitial.seconds * pow(2, Double(exponent)), retryMaximum.seconds)
        return .milliseconds(Int64(base * (1 + jitter) * 1000))
    }

    /// Until the credential's renewal point, but never a busy loop.
    public func renewalDelay(for credential: WorkloadCredential, now: Date = Date()) -> Duration {
        let seconds = max(credential.renewAt.timeIntervalSince(now), retryInitial.seconds)
        return .milliseconds(Int64(seconds * 1000))
    }

    public static func state(of credential: WorkloadCredential?, lastError: String?, now: Date = Date()) -> String {
        guard let credential else { return lastError.map { "error: \($0)" } ?? "pending" }
        if now >= credential.notAfter { return "expired" }
        if now >= credential.renewAt { return "expiring" }
        return "valid"
    }
}
