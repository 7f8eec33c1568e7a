import ArgumentParser
import FerryIdentity
import FerryMesh
import Foundation

/// `ferryctl ca init` and `ferryctl ca issue-node`: make the mesh root, then one
/// credential per node agent. Both work on files only; no agent is needed.
struct CACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "Create the mesh root CA and node credentials.",
        subcommands: [CAInitCommand.self, CAIssueNodeCommand.self, CARevokeNodeCommand.self]
    )
}

struct CAInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new root CA (ca.crt, ca.key, trust-domain) in a directory; never overwrites one."
    )

    @Option(name: .customLong("ca-dir"), help: "Directory for the CA's files (created if missing).")
    var caDirectory: String

    @Option(help: "SPIFFE trust domain of the mesh (MeshConfig spec.trustDomain must match).")
    var trustDomain: String = "cluster.local"

    @OptionGroup var output: OutputOptions

    struct Created: Encodable {
        var directory: String
        var trustDomain: String
        var files: [String]
        var subject: String
        var serial: String
        var notBefore: Date
        var notAfter: Date
    }

    func run() throws {
        let authority: CertificateAuthority
        do {
            authority = try CertificateAuthority.initialize(directory: caDirectory, trustDomain: trustDomain)
        } catch {
            fail("\(error)")
        }
        let created = Created(
            directory: caDirectory, trustDomain: authority.trustDomain,
            files: [CertificateAuthority.certificateFile, CertificateAuthority.keyFile, CertificateAuthority.trustDomainFile]
                .map { caDirectory + "/" + $0 },
            subject: "\(authority.root.subject)", serial: authority.root.serialHex,
            notBefore: authority.root.notValidBefore, notAfter: authority.root.notValidAfter
        )
        if output.json { return output.printJSON(created) }
        print("created root CA for trust domain \(created.trustDomain) in \(caDirectory)")
        print("  subject:   \(created.subject)")
        print("  serial:    \(created.serial)")
        print("  valid:     \(created.notBefore.ISO8601Format()) to \(created.notAfter.ISO8601Format())")
        print("  files:     \(created.files.joined(separator: ", ")) (keep ca.key secret)")
    }
}

struct CAIssueNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue-node",
        abstract: "Issue a node agent's credential (node.crt, node.key, ca.crt) signed by the root."
    )

    @Argument(help: "The node's name, as in Node resources and ferry.dev/node.")
    var node: String

    @Option(name: .customLong("ca-dir"), help: "Directory of the root CA (from `ferryctl ca init`).")
    var caDirectory: String

    @Option(name: .customLong("out"), help: "Directory to write the node's credential to (created if missing).")
    var outDirectory: String

    /// Short on purpose: the agent renews it from the CA at half-life, so a
    /// stolen copy stops working within a day (`ferryctl ca revoke-node` sooner).
    @Option(help: "Validity, as a Go duration; the agent renews it from the CA at half-life.")
    var validity: String = "24h"

    @OptionGroup var output: OutputOptions

    struct Created: Encodable {
        var node: String
        var uri: String
        var directory: String
        var files: [String]
        var serial: String
        var notBefore: Date
        var notAfter: Date
    }

    func run() throws {
        guard let duration = GoDuration.parse(validity), duration > .zero else {
            fail("--validity '\(validity)' is not a positive duration (like 24h)")
        }
        let credential: NodeCredential
        do {
            let authority = try CertificateAuthority.load(directory: caDirectory)
            credential = try authority.issueNodeCredential(node: node, validity: duration)
            try credential.write(to: outDirectory)
        } catch {
            fail("\(error)")
        }
        let created = Created(
            node: credential.nodeName, uri: credential.uri, directory: outDirectory,
            files: [NodeCredential.certificateFile, NodeCredential.keyFile, NodeCredential.rootFile]
                .map { outDirectory + "/" + $0 },
            serial: credential.certificate.serialHex,
            notBefore: credential.certificate.notValidBefore, notAfter: credential.certificate.notValidAfter
        )
        if output.json { return output.printJSON(created) }
        print("issued node credential \(created.uri) in \(outDirectory)")
        print("  serial:    \(created.serial)")
        print("  valid:     \(created.notBefore.ISO8601Format()) to \(created.notAfter.ISO8601Format())")
        print("  files:     \(created.files.joined(separator: ", "))")
    }
}

struct CARevokeNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke-node",
        abstract: "Revoke every credential of a node issued until now; the CA refuses them (and their renewals) at once."
    )

    @Argument(help: "The node's name.")
    var node: String

    @Option(name: .customLong("ca-dir"), help: "Directory of the root CA (the one `ferryd ca` serves).")
    var caDirectory: String

    @Option(help: "Why, as the CA will say it to the node.")
    var reason: String = "revoked by an operator"

    @OptionGroup var output: OutputOptions

    func run() throws {
        guard MeshName.isValidNodeName(node) else { fail("'\(node)' is not a valid node name") }
        let revocation: NodeRevocations.Revocation
        do {
            _ = try CertificateAuthority.load(directory: caDirectory)
            revocation = try NodeRevocations.revoke(node: node, reason: reason, directory: caDirectory)
        } catch {
            fail("\(error)")
        }
        if output.json { return output.printJSON(revocation) }
        print("revoked the credentials of node \(node) issued until \(revocation.revokedAt.ISO8601Format())")
        print("  the CA refuses them from its next request; issue a new one with `ferryctl ca issue-node \(node)`")
    }
}
