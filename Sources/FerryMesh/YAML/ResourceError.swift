/// A problem in a configuration resource, located to file and line.
public struct ResourceError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file (or "api-server" for the Kubernetes source).
    public var file: String
    /// 1-based; 0 when unknown.
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "\(file):\(line): \(message)" : "\(file): \(message)" }
}
