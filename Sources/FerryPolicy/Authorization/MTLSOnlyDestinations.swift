import FerryMesh

/// Where plaintext must never go: the addresses and ports that accept only
/// mutual TLS (PeerAuthentication STRICT), for the capture hook to check
/// while ferryd is down. A connect it would otherwise pass through untouched
/// (fail open) is refused instead, so no client sends plaintext to a STRICT
/// workload on another node, directly or by a Service VIP, whatever its own
/// fail mode.
///
/// Port 0 stands for every port of an address; an entry for one port
/// overrides it (`portLevelMtls`), so a PERMISSIVE port of a STRICT
/// workload is there as `false`. Addresses absent are PERMISSIVE.
public struct MTLSOnlyDestinations: Sendable, Equatable {
    public struct Key: Hashable, Sendable {
        public var address: IPAddress
        /// 0: every port without an entry of its own.
        public var port: Int

        public init(_ address: IPAddress, port: Int) {
            self.address = address
            self.port = port
        }
    }

    /// Key → whether only mTLS is accepted there.
    public private(set) var entries: [Key: Bool] = [:]

    public init(state: MeshState, peerAuthentication: PeerAuthenticationResolver) {
        for workload in state.workloads {
            let strict = peerAuthentication.mode(for: workload, port: 0) == .strict
            let portLevel = peerAuthentication.policies(for: workload).workload?.portModes.keys.sorted() ?? []
            for address in workload.addresses {
                if strict { entries[Key(address, port: 0)] = true }
                for port in portLevel {
                    let portStrict = peerAuthentication.mode(for: workload, port: port) == .strict
                    if portStrict != strict { entries[Key(address, port: port)] = portStrict }
                }
            }
        }
        // A VIP port is STRICT when any endpoint's target port is: the client
        // cannot know which endpoint kube-proxy (or anything else) would pick.
        for service in state.services {
            let endpoints = state.endpoints(of: service)
            for port in service.ports {
                let strict = endpoints.contains { workload in
                    port.targetPort(on: workload).map { peerAuthentication.mode(for: workload, port: $0) == .strict } ?? false
                }
                guard strict else { continue }
                for vip in service.vips { entries[Key(vip, port: port.port)] = true }
            }
        }
    }

    /// Whether a connection to `address:port` must be mutual TLS.
    public func requiresMTLS(_ address: IPAddress, port: Int) -> Bool {
        entries[Key(address, port: port)] ?? entries[Key(address, port: 0)] ?? false
    }
}
