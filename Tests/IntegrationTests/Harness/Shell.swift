import Foundation
import Testing

/// Running commands from tests: synchronously with captured output, or in the
/// background with output in files.
enum Shell {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var ok: Bool { status == 0 }
        var output: String { stdout + stderr }
    }

    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            return Result(status: -1, stdout: "", stderr: "cannot run \(arguments): \(error)")
        }
        // Read while it runs so a full pipe never blocks the child.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            usleep(200_000)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        group.wait()
        return Result(status: process.terminationStatus,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    static func sh(_ script: String, timeout: Double = 120) -> Result {
        run(["sh", "-c", script], timeout: timeout)
    }
}

/// A process started in the background; stdout and stderr go to files.
final class BackgroundProcess: @unchecked Sendable {
    let process = Process()
    let name: String
    let stdoutPath: String
    let stderrPath: String

    init(name: String, arguments: [String], logDirectory: String) throws {
        self.name = name
        stdoutPath = "\(logDirectory)/\(name).out"
        stderrPath = "\(logDirectory)/\(name).err"
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ signal: Int32) { if process.isRunning { kill(pid, signal) } }

    /// SIGTERM, then SIGKILL after `grace` seconds.
    func stop(grace: Double = 5) {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Waits until a line appears on stdout (a server saying "listening").
    func waitForOutput(_ text: String, timeout: Double = 10) -> Bool {
        poll(timeout: timeout) { self.stdout.contains(text) }
    }
}

/// Polls until the condition holds or the timeout passes.
func poll(timeout: Double, interval: Double = 0.05, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(UInt32(interval * 1_000_000))
    }
    return condition()
}

/// Paths of the built products and the source tree.
enum Paths {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var binDirectory: String {
        ProcessInfo.processInfo.environment["FERRY_BIN_DIR"] ?? packageRoot + "/.build/debug"
    }

    static var bpfObjects: String {
        ProcessInfo.processInfo.environment["FERRY_BPF_DIR"] ?? packageRoot + "/BPF/build"
    }

    static var ferryd: String { binDirectory + "/ferryd" }
    static var ferryctl: String { binDirectory + "/ferryctl" }
    static var testTool: String { packageRoot + "/Tests/IntegrationTests/Tools/ferrytest.py" }
}

/// Integration tests need root (BPF, namespaces, cgroups); without it they are
/// reported as skipped with this reason.
enum Privileges {
    static let isRoot = geteuid() == 0
    static let skipReason: Comment = "skipped: integration tests need root (BPF, network namespaces, cgroups)"
}
