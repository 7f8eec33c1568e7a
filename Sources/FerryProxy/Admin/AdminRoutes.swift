import FerryBPF
import FerryHTTP
import FerryMesh
import FerryPolicy
import FerryTelemetry
import Foundation
import Logging
import NIOHTTP1

/// The admin API (127.0.0.1:15000): what `ferryctl` reads.
struct AdminRoutes: Sendable {
    let agent: AgentParts

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        switch (request.method, request.path) {
        case (.GET, "/status"): return .json(agent.status())
        case (.GET, "/config_dump"): return .json(agent.configDump())
        case (.GET, "/connections"): return .json(agent.connectionsView())
        case (.GET, "/workloads"): return .json(agent.configDump().workloads)
        case (.GET, "/services"): return .json(agent.configDump().services)
        case (.GET, "/certificates"): return .json(agent.certificates())
        case (.GET, "/routes"):
            return .json(AdminAPI.Routes(routes: RouteStatus.all(in: agent.store.state), configErrors: agent.watcher.problems))
        case (.GET, "/policies"): return .json(agent.policyRoutes().list())
        case (.GET, "/policies/check"): return agent.policyRoutes().check(query: request.query)
        case (.GET, "/logging"): return .json(AdminAPI.LogLevel(level: FerryLogging.level.rawValue))
        case (.POST, "/logging"), (.PUT, "/logging"):
            let requested = request.query["level"]
                ?? (try? JSONDecoder().decode(AdminAPI.LogLevel.self, from: Data(request.bodyBytes)))?.level
            guard let requested, let level = Logger.Level(rawValue: requested) else {
                return .error(.badRequest, "level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            FerryLogging.setLevel(level)
            agent.logger.notice("log level changed", metadata: ["ferry.level": "\(level)"])
            return .json(AdminAPI.LogLevel(level: level.rawValue))
        case (.GET, "/healthz"), (.GET, "/healthz/ready"):
            return .text("ok\n")
        default:
            return .error(.notFound, "no such endpoint \(request.method) \(request.path)")
        }
    }
}
