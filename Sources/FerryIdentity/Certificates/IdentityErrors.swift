import Foundation

/// A credential file (CA, node credential) that is missing, in the way, or bad.
public struct CredentialFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Problem: Hashable, Sendable {
        case missing
        case exists
        case unreadable(String)
        case invalid(String)
    }

    public var path: String
    public var problem: Problem

    public init(path: String, problem: Problem) {
        self.path = path
        self.problem = problem
    }

    public var description: String {
        switch problem {
        case .missing: "\(path): does not exist"
        case .exists: "\(path): already exists; refusing to overwrite it"
        case .unreadable(let reason): "\(path): cannot be read or written: \(reason)"
        case .invalid(let reason): "\(path): \(reason)"
        }
    }
}

/// A request the CA will not issue, with the value that was wrong.
public enum IssuanceError: Error, Hashable, Sendable, CustomStringConvertible {
    case invalidTrustDomain(String)
    case invalidNodeName(String)
    case malformedCSR(reason: String)
    case badCSRSignature
    case unsupportedKey(algorithm: String)
    /// The CSR asks for names other than the identity being signed.
    case csrNamesMismatch(requested: [String], identity: String)
    case foreignTrustDomain(identity: String, caTrustDomain: String)
    case invalidValidity(Duration)

    public var description: String {
        switch self {
        case .invalidTrustDomain(let td):
            "trust domain '\(td)' is not valid (SPIFFE allows lowercase letters, digits, '.', '-' and '_')"
        case .invalidNodeName(let name):
            "node name '\(name)' is not valid (letters, digits, '.', '-' and '_')"
        case .malformedCSR(let reason): "the CSR cannot be parsed: \(reason)"
        case .badCSRSignature: "the CSR's signature does not verify with its own public key"
        case .unsupportedKey(let algorithm): "the CSR's key is \(algorithm); mesh keys must be ECDSA P-256"
        case .csrNamesMismatch(let requested, let identity):
            "the CSR requests \(requested.isEmpty ? "no URI" : requested.joined(separator: ", ")), not \(identity)"
        case .foreignTrustDomain(let identity, let td):
            "\(identity) is outside this CA's trust domain \(td)"
        case .invalidValidity(let duration): "validity \(duration) is not positive"
        }
    }
}
