import ArgumentParser
import AsyncHTTPClient
import FerryProxy
import Foundation
import NIOCore
import NIOHTTP1

/// Where the agent is.
struct AgentOptions: ParsableArguments {
    @Option(help: "Admin API port of the agent on 127.0.0.1.")
    var adminPort: Int = 15000
}

enum AdminError: Error, CustomStringConvertible {
    case agentDown(String)
    case failed(String)

    var description: String {
        switch self {
        case .agentDown(let detail): "ferryd is not running on this node (admin API: \(detail))"
        case .failed(let detail): detail
        }
    }
}

/// A client of the agent's admin API (127.0.0.1:15000).
struct AdminClient {
    let port: Int

    init(_ options: AgentOptions) { port = options.adminPort }

    func get<T: Decodable>(_ path: String, as type: T.Type = T.self) async throws -> T {
        try decode(try await send(path, method: .GET))
    }

    func post<T: Decodable>(_ path: String, as type: T.Type = T.self) async throws -> T {
        try decode(try await send(path, method: .POST))
    }

    func raw(_ path: String) async throws -> String {
        String(decoding: try await send(path, method: .GET), as: UTF8.self)
    }

    private func decode<T: Decodable>(_ body: [UInt8]) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(T.self, from: Data(body))
        } catch {
            throw AdminError.failed("unexpected answer from the admin API: \(error)")
        }
    }

    private func send(_ path: String, method: HTTPMethod) async throws -> [UInt8] {
        // A refused connection means no agent; say so at once rather than after
        // the HTTP client's connection retries.
        if let refused = Self.probe(port: port) { throw AdminError.agentDown("127.0.0.1:\(port): \(refused)") }
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        } catch {
            throw AdminError.agentDown("127.0.0.1:\(port): \(Self.reason(error))")
        }
        let body = try await response.body.collect(upTo: 64 << 20)
        guard response.status == .ok else {
            throw AdminError.failed("admin API \(path): \(response.status.code) \(String(buffer: body))")
        }
        return Array(body.readableBytesView)
    }

    /// nil when something accepts connections on 127.0.0.1:port.
    static func probe(port: Int) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0 ? nil : String(cString: strerror(errno)).lowercased()
    }

    static func reason(_ error: Error) -> String {
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return text
    }
}
