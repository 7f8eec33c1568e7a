import ArgumentParser
import FerryProxy
import Foundation

/// `ferryctl policies` and `ferryctl policies check`.
struct PoliciesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policies", abstract: "Security policies with their scope and the workloads they select.",
        subcommands: [PoliciesList.self, PoliciesCheck.self], defaultSubcommand: PoliciesList.self
    )
}

struct PoliciesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List AuthorizationPolicies and PeerAuthentications.")

    @OptionGroup var output: OutputOptions
    @OptionGroup var agent: AgentOptions

    func run() async throws {
        let policies: [AdminAPI.PolicyInfo]
        do { policies = try await AdminClient(agent).get("/policies") } catch { fail("\(error)") }
        if output.json { return output.printJSON(policies) }
        var table = Table("KIND", "NAMESPACE", "NAME", "ACTION", "SCOPE", "WORKLOADS")
        for p in policies {
            table.add(p.kind, p.namespace, p.name, p.action, p.scope, p.workloads.isEmpty ? "-" : p.workloads.joined(separator: ","))
        }
        table.print()
    }
}

struct PoliciesCheck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Ask what policy decides for a source and a destination.")

    @Option(help: "The source: a SPIFFE id (spiffe://td/ns/N/sa/S) or an IP address.")
    var from: String

    @Option(help: "The destination: WORKLOAD:PORT, the workload as namespace/name or name.")
    var to: String

    @Option(help: "HTTP method, for L7 rules.")
    var method: String?

    @Option(help: "HTTP path, for L7 rules.")
    var path: String?

    @OptionGroup var output: OutputOptions
    @OptionGroup var agent: AgentOptions

    func run() async throws {
        var items = [URLQueryItem(name: "from", value: from), URLQueryItem(name: "to", value: to)]
        if let method { items.append(URLQueryItem(name: "method", value: method)) }
        if let path { items.append(URLQueryItem(name: "path", value: path)) }
        var components = URLComponents()
        components.queryItems = items
        let check: AdminAPI.PolicyCheck
        do { check = try await AdminClient(agent).get("/policies/check?" + (components.percentEncodedQuery ?? "")) } catch { fail("\(error)") }
        if output.json { return output.printJSON(check) }
        print("\(check.allowed ? "ALLOW" : "DENY")  \(check.source) → \(check.destination)")
        print("policy: \(check.policy ?? "(none: the default decided)")")
        print("reason: \(check.reason)")
        print("mTLS:   \(check.peerAuthentication)")
        if !check.allowed { throw ExitCode(1) }
    }
}
