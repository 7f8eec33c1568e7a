import ArgumentParser
import FerryPolicy
import FerryProxy
import Foundation

/// `ferryctl routes`: each HTTPRoute's and GRPCRoute's status per parent, as
/// a Gateway API controller would write it, with the messages of every
/// condition that is not plainly true.
struct RoutesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routes", abstract: "HTTPRoutes and GRPCRoutes with their Accepted and ResolvedRefs conditions."
    )

    @OptionGroup var output: OutputOptions
    @OptionGroup var agent: AgentOptions

    func run() async throws {
        let answer: AdminAPI.Routes
        do { answer = try await AdminClient(agent).get("/routes") } catch { fail("\(error)") }
        if output.json { return output.printJSON(answer) }
        print(Self.render(answer))
    }

    static func render(_ answer: AdminAPI.Routes) -> String {
        var table = Table("KIND", "ROUTE", "PARENT", "ACCEPTED", "RESOLVEDREFS")
        var notes: [String] = []
        for route in answer.routes {
            let key = "\(route.namespace)/\(route.name)"
            for parent in route.parents {
                func cell(_ type: String) -> String {
                    parent.condition(type).map { "\($0.status) (\($0.reason))" } ?? "-"
                }
                table.add(route.kind, key, parent.parentRef, cell("Accepted"), cell("ResolvedRefs"))
                let worth = parent.conditions.filter { !$0.isTrue || $0.type == "PartiallyInvalid" }
                if !worth.isEmpty {
                    let place = route.line > 0 ? "\(route.file):\(route.line)" : route.file
                    notes.append("\(route.kind) \(key) (\(place)) on \(parent.parentRef):\n"
                        + worth.map { "  \($0.type) \($0.status) \($0.reason): \($0.message)" }.joined(separator: "\n"))
                }
            }
        }
        var text = answer.routes.isEmpty ? "no routes" : table.render()
        if !notes.isEmpty { text += "\n\n" + notes.joined(separator: "\n") }
        if !answer.configErrors.isEmpty {
            text += "\n\nconfiguration errors (a file refused keeps its last good routes in force):\n"
                + answer.configErrors.map { "  " + $0 }.joined(separator: "\n")
        }
        return text
    }
}
