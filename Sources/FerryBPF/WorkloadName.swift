import CLibBPF

extension ferry_workload_name: @retroactive @unchecked Sendable {
    /// "namespace/name", cut to what the ABI holds (FERRY_WORKLOAD_NAME_MAX
    /// bytes with the NUL; Kubernetes names fit).
    public init(_ key: String) {
        self.init()
        let bytes = Array(key.utf8.prefix(Int(FERRY_WORKLOAD_NAME_MAX) - 1))
        withUnsafeMutableBytes(of: &self.key) { $0.copyBytes(from: bytes) }
    }

    public var text: String {
        withUnsafeBytes(of: key) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
