import FerryMesh
import Foundation
import Yams

/// A kubeconfig file, for development outside a cluster: clusters, users and
/// contexts, of which one (the current context, or one named) is used.
public struct Kubeconfig: Sendable, Hashable {
    public struct Cluster: Sendable, Hashable {
        public var server: String
        public var certificateAuthority: String?
        public var certificateAuthorityData: [UInt8]?
        public var insecureSkipTLSVerify: Bool
    }

    public struct User: Sendable, Hashable {
        public var token: String?
        public var tokenFile: String?
        public var clientCertificate: String?
        public var clientCertificateData: [UInt8]?
        public var clientKey: String?
        public var clientKeyData: [UInt8]?
    }

    public struct Context: Sendable, Hashable {
        public var cluster: String
        public var user: String?
    }

    /// The file, for messages and for resolving relative paths.
    public var path: String
    public var currentContext: String?
    public var clusters: [String: Cluster]
    public var users: [String: User]
    public var contexts: [String: Context]

    public static func load(path: String) throws -> Kubeconfig {
        try Kubeconfig(yaml: readFile(path), path: path)
    }

    public init(yaml: String, path: String) throws {
        self.path = path
        do {
            guard let node = try Yams.compose(yaml: yaml) else { throw CredentialError(path, "kubeconfig is empty") }
            let root = try YAMLField(node: node, path: "", file: path).fields()
            currentContext = try root.string("current-context").flatMap { $0.isEmpty ? nil : $0 }
            clusters = try Self.named(root, "clusters", entry: "cluster", path: path) { fields, field in
                // Silently connecting another way than the file says would be worse than refusing.
                for unsupported in ["tls-server-name", "proxy-url"] where fields[unsupported] != nil {
                    throw CredentialError(path, "\(field.path).\(unsupported): not supported")
                }
                return Cluster(
                    server: try fields.requiredString("server", in: field),
                    certificateAuthority: try fields.string("certificate-authority"),
                    certificateAuthorityData: try Self.base64(fields, "certificate-authority-data"),
                    insecureSkipTLSVerify: try fields.bool("insecure-skip-tls-verify") ?? false
                )
            }
            users = try Self.named(root, "users", entry: "user", path: path) { fields, field in
                for unsupported in ["exec", "auth-provider", "username"] where fields[unsupported] != nil {
                    throw CredentialError(path, "\(field.path).\(unsupported): not supported; use a token, tokenFile or client certificate")
                }
                return User(
                    token: try fields.string("token"), tokenFile: try fields.string("tokenFile"),
                    clientCertificate: try fields.string("client-certificate"),
                    clientCertificateData: try Self.base64(fields, "client-certificate-data"),
                    clientKey: try fields.string("client-key"), clientKeyData: try Self.base64(fields, "client-key-data")
                )
            }
            contexts = try Self.named(root, "contexts", entry: "context", path: path) { fields, field in
                Context(cluster: try fields.requiredString("cluster", in: field), user: try fields.string("user"))
            }
        } catch let error as ResourceError {
            throw CredentialError(path, error.line > 0 ? "line \(error.line): \(error.message)" : error.message)
        } catch let error as YamlError {
            throw CredentialError(path, "malformed YAML: \(error)")
        }
    }

    /// The named context's (or the current context's) server and credentials.
    public func credentials(context name: String? = nil) throws -> ClusterCredentials {
        guard let contextName = name ?? currentContext else {
            throw CredentialError(path, "current-context is not set; name a context")
        }
        guard let context = contexts[contextName] else {
            throw CredentialError(path, "contexts: no context named '\(contextName)' (have: \(contexts.keys.sorted().joined(separator: ", ")))")
        }
        guard let cluster = clusters[context.cluster] else {
            throw CredentialError(path, "contexts[\(contextName)].cluster: no cluster named '\(context.cluster)'")
        }
        guard cluster.server.hasPrefix("https://") || cluster.server.hasPrefix("http://") else {
            throw CredentialError(path, "clusters[\(context.cluster)].server '\(cluster.server)' is not an http(s) URL")
        }
        var trust = ClusterCredentials.Trust.system
        if let data = cluster.certificateAuthorityData {
            trust = .pem(data)
        } else if let file = cluster.certificateAuthority {
            trust = .pem(try readFileBytes(resolve(file)))
        } else if cluster.insecureSkipTLSVerify {
            trust = .insecureSkipVerify
        }
        var certificate: ClusterCredentials.ClientCertificate?
        var token: BearerToken?
        if let userName = context.user, !userName.isEmpty {
            guard let user = users[userName] else {
                throw CredentialError(path, "contexts[\(contextName)].user: no user named '\(userName)'")
            }
            let certPEM = try user.clientCertificateData ?? user.clientCertificate.map { try readFileBytes(resolve($0)) }
            let keyPEM = try user.clientKeyData ?? user.clientKey.map { try readFileBytes(resolve($0)) }
            switch (certPEM, keyPEM) {
            case (let cert?, let key?): certificate = .init(certificatePEM: cert, keyPEM: key)
            case (nil, nil): break
            case (_?, nil): throw CredentialError(path, "users[\(userName)]: client-certificate without client-key")
            case (nil, _?): throw CredentialError(path, "users[\(userName)]: client-key without client-certificate")
            }
            if let literal = user.token, !literal.isEmpty {
                token = .literal(literal)
            } else if let file = user.tokenFile {
                token = .file(resolve(file))
            }
        }
        return ClusterCredentials(server: cluster.server, trust: trust, clientCertificate: certificate, token: token,
                                  origin: "kubeconfig \(path) (context \(contextName))")
    }

    /// Relative paths in a kubeconfig are relative to the file's directory.
    func resolve(_ file: String) -> String {
        if file.hasPrefix("/") { return file }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        return directory + "/" + file
    }

    /// `[{name: x, <entry>: {...}}]` → [x: value].
    static func named<T>(_ root: [String: YAMLField], _ key: String, entry: String, path: String,
                         _ make: ([String: YAMLField], YAMLField) throws -> T) throws -> [String: T] {
        var result: [String: T] = [:]
        for item in try root.list(key) {
            let fields = try item.fields()
            let name = try fields.requiredString("name", in: item)
            guard let body = fields[entry] else { throw item.error("\(item.path).\(entry) is required") }
            result[name] = try make(try body.fields(), body)
        }
        return result
    }

    static func base64(_ fields: [String: YAMLField], _ key: String) throws -> [UInt8]? {
        guard let text = try fields.string(key) else { return nil }
        guard let data = Data(base64Encoded: text.trimmingWhitespace(), options: .ignoreUnknownCharacters) else {
            throw fields[key]!.error("\(fields[key]!.path) is not valid base64")
        }
        return Array(data)
    }
}
