import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1

/// Lists and watches collections of the API server. Watches are requests that
/// stay open for minutes, one per watched kind, so the connection pool allows
/// more than AsyncHTTPClient's default of eight per host.
public final class KubernetesClient: Sendable {
    public let credentials: ClusterCredentials
    private let http: HTTPClient
    private let maximumListBytes: Int

    /// `maximumWatchSeconds`: the longest `timeoutSeconds` a watch will ask for;
    /// a connection silent for longer than that (plus a minute) is given up as dead.
    /// `connectTimeout` bounds connecting, TLS included: AsyncHTTPClient keeps
    /// retrying a refused or failed connection until then.
    public init(credentials: ClusterCredentials, maximumWatchSeconds: Int = 600, maximumListBytes: Int = 512 << 20,
                connectTimeout: Duration = .seconds(10)) throws {
        var configuration = HTTPClient.Configuration()
        if credentials.server.hasPrefix("https://") {
            configuration.tlsConfiguration = try credentials.tlsConfiguration()
        }
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.timeout = .init(connect: .nanoseconds(Int64(connectTimeout / .nanoseconds(1))),
                                      read: .seconds(Int64(maximumWatchSeconds + 60)))
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        self.credentials = credentials
        self.maximumListBytes = maximumListBytes
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Call once the sources using the client have stopped.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// Selectors that narrow a collection; the same for its list and its watch.
    public struct Selectors: Sendable, Hashable {
        public var fieldSelector: String?
        public var labelSelector: String?

        public init(fieldSelector: String? = nil, labelSelector: String? = nil) {
            self.fieldSelector = fieldSelector
            self.labelSelector = labelSelector
        }

        var query: [(String, String)] {
            [("fieldSelector", fieldSelector), ("labelSelector", labelSelector)].compactMap { name, value in
                value.map { (name, $0) }
            }
        }
    }

    /// One page of a collection: `limit` items at most, after `continueToken`.
    public func list(_ resource: APIResource, selectors: Selectors = .init(), limit: Int? = nil,
                     continueToken: String? = nil) async throws -> ListPage {
        var query = selectors.query
        if let limit { query.append(("limit", "\(limit)")) }
        if let continueToken { query.append(("continue", continueToken)) }
        let response = try await get(resource.path, query: query)
        let body = try await response.body.collect(upTo: maximumListBytes)
        return try ListPage(json: String(buffer: body), kind: resource.kind, apiVersion: resource.apiVersion)
    }

    public enum WatchControl: Sendable {
        case proceed
        case stop
    }

    public enum WatchEnd: Sendable, Equatable {
        /// The server ended the stream (its `timeoutSeconds`, or a restart).
        case closedByServer
        /// The handler returned `.stop`.
        case stopped
    }

    /// Watches a collection from `resourceVersion`, handing each event to `onEvent`.
    /// Throws when the connection fails or the server refuses (an `APIError`).
    public func watch(_ resource: APIResource, selectors: Selectors = .init(), resourceVersion: String,
                      timeoutSeconds: Int, bookmarks: Bool = true,
                      onEvent: (WatchEvent) async throws -> WatchControl) async throws -> WatchEnd {
        var query = selectors.query
        query += [("watch", "1"), ("resourceVersion", resourceVersion), ("timeoutSeconds", "\(timeoutSeconds)")]
        if bookmarks { query.append(("allowWatchBookmarks", "true")) }
        let response = try await get(resource.path, query: query)
        var splitter = LineSplitter()
        for try await buffer in response.body {
            for line in try splitter.append(buffer.readableBytesView) {
                if try await onEvent(try WatchEvent(line: line)) == .stop { return .stopped }
            }
        }
        return .closedByServer
    }

    /// One object, e.g. `/api/v1/namespaces/ferry-system/pods/ferry-agent-x7k2p`,
    /// as JSON text.
    public func getObject(_ path: String, timeout: Duration = .seconds(10)) async throws -> String {
        let response = try await send(.GET, path, timeout: timeout)
        return String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    /// POSTs a JSON object to a collection (`create`), e.g. a TokenReview; the
    /// answer as JSON text.
    public func create(_ path: String, json: [UInt8], timeout: Duration = .seconds(10)) async throws -> String {
        let response = try await send(.POST, path, body: json, timeout: timeout)
        return String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    func get(_ path: String, query: [(String, String)]) async throws -> HTTPClientResponse {
        try await send(.GET, path, query: query, timeout: .seconds(30))
    }

    /// A request whose status is 2xx; anything else becomes an `APIError` with
    /// the server's Status message.
    func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
              timeout: Duration) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: credentials.server + path + (query.isEmpty ? "" : "?" + QueryString.encode(query)))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "ferryd")
        if let token = credentials.token {
            request.headers.add(name: "Authorization", value: "Bearer \(try token.current())")
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await http.execute(request, timeout: .nanoseconds(Int64(timeout / .nanoseconds(1))))
        guard (200..<300).contains(response.status.code) else {
            let body = try? await response.body.collect(upTo: 64 << 10)
            throw APIError(method: method.rawValue, path: path, statusCode: Int(response.status.code),
                           status: body.flatMap { APIStatus(body: String(buffer: $0)) })
        }
        return response
    }
}
