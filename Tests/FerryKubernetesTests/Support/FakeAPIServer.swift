import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// `Tools/fake_apiserver.py` as a child process on 127.0.0.1: started on port 0,
/// restartable on the same port with its objects (kept in a state file), and
/// driven through its control endpoints.
final class FakeAPIServer: Sendable {
    let port: Int
    private let stateFile: String
    private let arguments: [String]
    private let process: Mutex<Process?>

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tools/fake_apiserver.py").path

    var url: String { "http://127.0.0.1:\(port)" }

    private init(port: Int, stateFile: String, arguments: [String], process: Process) {
        self.port = port
        self.stateFile = stateFile
        self.arguments = arguments
        self.process = Mutex(process)
    }

    /// `objects`: what the server holds from the start (for servers whose control
    /// endpoints the test cannot reach, behind TLS). `arguments`: --tls-cert and such.
    static func start(arguments: [String] = [], objects: [JSON] = []) async throws -> FakeAPIServer {
        let stateFile = FileManager.default.temporaryDirectory.appendingPathComponent("ferry-fake-apiserver-\(UUID().uuidString).json").path
        if !objects.isEmpty {
            let numbered = objects.enumerated().map { index, object -> JSON in
                var object = object
                object["metadata"]?["resourceVersion"] = .string("\(index + 1)")
                return object
            }
            try JSON.object(["resourceVersion": .number(Double(objects.count)), "objects": .array(numbered)]).data
                .write(to: URL(fileURLWithPath: stateFile))
        }
        let (process, port) = try await launch(port: 0, stateFile: stateFile, arguments: arguments)
        return FakeAPIServer(port: port, stateFile: stateFile, arguments: arguments, process: process)
    }

    /// Kills the process at once (open watches break mid-stream) and starts it
    /// again on the same port from its state file.
    func restart() async throws {
        kill()
        let (process, _) = try await Self.launch(port: port, stateFile: stateFile, arguments: arguments)
        self.process.withLock { $0 = process }
    }

    func kill() {
        process.withLock { process in
            guard let running = process else { return }
            Glibc.kill(running.processIdentifier, SIGKILL)
            running.waitUntilExit()
            process = nil
        }
    }

    /// Stops the process and removes its state file.
    func stop() {
        kill()
        try? FileManager.default.removeItem(atPath: stateFile)
    }

    private static func launch(port: Int, stateFile: String, arguments: [String]) async throws -> (Process, Int) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--port", "\(port)", "--state-file", stateFile] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // The first line says which port it bound: "listening on PORT".
        let handle = output.fileHandleForReading
        let line = try await Task.detached { () throws -> String in
            var text = Data()
            let deadline = Date().addingTimeInterval(10)
            while !text.contains(UInt8(ascii: "\n")) {
                guard Date() < deadline else { throw FakeServerError("fake API server did not start in 10s") }
                let chunk = handle.availableData
                if chunk.isEmpty { throw FakeServerError("fake API server exited before listening") }
                text.append(chunk)
            }
            return String(decoding: text, as: UTF8.self)
        }.value
        guard let bound = line.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            throw FakeServerError("unexpected first line from the fake API server: \(line)")
        }
        return (process, bound)
    }

    // MARK: control

    @discardableResult
    func apply(_ object: JSONObject) async throws -> Int {
        try await post("/_control/apply", object)
    }

    @discardableResult
    func delete(kind: String, namespace: String = "", name: String) async throws -> Int {
        try await post("/_control/delete", ["kind": .string(kind), "namespace": .string(namespace), "name": .string(name)])
    }

    /// Several changes at once: open watches see none of them before a `drop` in the same batch.
    @discardableResult
    func batch(_ ops: [JSONObject]) async throws -> Int {
        try await post("/_control/batch", ["ops": .array(ops)])
    }

    func compact() async throws { try await post("/_control/compact", [:]) }
    func dropWatches() async throws { try await post("/_control/drop", [:]) }

    /// `tokens`: what TokenReview answers per token (username, uid, extra, audiences);
    /// `tokenReviewStatus`: refuse TokenReviews with this HTTP status (0: answer them).
    func configure(bookmarkInterval: Double? = nil, watchGone: String? = nil, unserved: [String]? = nil,
                   tokens: [String: JSON]? = nil, tokenReviewStatus: Int? = nil) async throws {
        var body: JSON = [:]
        if let tokens { body["tokens"] = .object(tokens) }
        if let tokenReviewStatus { body["tokenReviewStatus"] = .number(Double(tokenReviewStatus)) }
        if let bookmarkInterval { body["bookmarkInterval"] = .number(bookmarkInterval) }
        if let watchGone { body["watchGone"] = .string(watchGone) }
        if let unserved { body["unserved"] = JSON(unserved) }
        try await post("/_control/config", body)
    }

    /// Every object (with kind and apiVersion) and the current resourceVersion.
    func objects() async throws -> (resourceVersion: Int, items: [String]) {
        let root = try await getJSON("/_control/objects")
        let items = (root["items"] as? [Any] ?? []).map { item in
            String(decoding: try! JSONSerialization.data(withJSONObject: item, options: [.sortedKeys]), as: UTF8.self)
        }
        return (Int(root["resourceVersion"] as? String ?? "") ?? -1, items)
    }

    /// Request counts of one collection: "list", "continue", "watch", "gone".
    func stats(_ plural: String) async throws -> [String: Int] {
        let root = try await getJSON("/_control/stats")
        return root[plural] as? [String: Int] ?? [:]
    }

    @discardableResult
    private func post(_ path: String, _ body: JSONObject) async throws -> Int {
        var request = HTTPClientRequest(url: url + path)
        request.method = .POST
        let data = body.data
        request.body = .bytes(ByteBuffer(bytes: data))
        request.headers.add(name: "Content-Length", value: "\(data.count)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status == .ok else { throw FakeServerError("\(path): HTTP \(response.status.code) \(text)") }
        let root = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        return Int(root?["resourceVersion"] as? String ?? "") ?? -1
    }

    private func getJSON(_ path: String) async throws -> [String: Any] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url + path), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 << 20)
        return try JSONSerialization.jsonObject(with: Data(String(buffer: body).utf8)) as? [String: Any] ?? [:]
    }
}

struct FakeServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
