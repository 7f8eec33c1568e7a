import Foundation
import Logging

/// The file source: a directory of multi-document YAML files (`*.yaml`, `*.yml`,
/// `*.json`), read into one `MeshState`.
///
/// Each file keeps its last good contents: when a file turns bad, its error is
/// reported with file and line and its previous resources stay in force, so one
/// typo never unenrolls a workload or drops a policy. A set that fails as a whole
/// (a duplicate, say) keeps the whole last good state.
public struct FileSource: Sendable {
    public let directory: String
    private var lastGood: [String: [LocatedResource]] = [:]
    private var fingerprints: [String: FileFingerprint] = [:]
    private var fileErrors: [String: ResourceError] = [:]
    public private(set) var state: MeshState = .empty
    public private(set) var errors: [ResourceError] = []

    public init(directory: String) {
        self.directory = directory
    }

    /// What a reload did.
    public struct Outcome: Sendable {
        /// The new state, when anything changed and the result is valid.
        public var newState: MeshState?
        /// Problems found this time (the affected files kept their last good contents).
        public var errors: [ResourceError]
        public var changed: Bool
    }

    /// Rereads files whose size, time or inode changed. Cheap when nothing did.
    public mutating func reload() -> Outcome {
        let files = Self.configFiles(in: directory)
        var current: [String: FileFingerprint] = [:]
        for file in files { current[file] = FileFingerprint(path: file) }
        if current == fingerprints { return Outcome(newState: nil, errors: [], changed: false) }

        var candidate = lastGood.filter { current[$0.key] != nil }
        fileErrors = fileErrors.filter { current[$0.key] != nil }
        for file in files where current[file] != fingerprints[file] {
            do {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                candidate[file] = try ResourceDecoder.decode(yaml: text, file: file)
                fileErrors[file] = nil
            } catch let error as ResourceError {
                fileErrors[file] = error
            } catch {
                fileErrors[file] = ResourceError(file: file, line: 0, message: "cannot read: \(error)")
            }
        }
        var problems = fileErrors.keys.sorted().map { fileErrors[$0]! }
        if !FileManager.default.fileExists(atPath: directory) {
            problems.append(ResourceError(file: directory, line: 0, message: "configuration directory does not exist"))
        }
        fingerprints = current
        let ordered = candidate.keys.sorted().flatMap { candidate[$0]! }
        do {
            let next = try MeshState(resources: ordered, generation: state.generation + 1)
            lastGood = candidate
            state = next
            errors = problems
            return Outcome(newState: next, errors: problems, changed: true)
        } catch let error as ResourceError {
            errors = problems + [error]
            return Outcome(newState: nil, errors: errors, changed: true)
        } catch {
            errors = problems
            return Outcome(newState: nil, errors: problems, changed: true)
        }
    }

    static func configFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names
            .filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json")) }
            .sorted()
            .map { directory + "/" + $0 }
    }
}

/// Enough of a file's metadata to notice edits, replacements and renames.
struct FileFingerprint: Hashable, Sendable {
    var size: Int64
    var modified: Int64
    var inode: UInt64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        size = Int64(info.st_size)
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        inode = UInt64(info.st_ino)
    }
}
