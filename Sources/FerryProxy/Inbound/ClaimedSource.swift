import FerryMesh

/// The source address the destination side uses for policy (ipBlocks,
/// `source.ip`) and metrics. The `forwarded: for=` of an HBONE CONNECT is only
/// a claim: it counts when the mesh state has a workload at that address
/// whose identity is the one the peer's certificate proves (a pod behind its
/// node's agent). Otherwise the peer's own TLS address is the source, and the
/// mismatch is counted and logged by the caller.
enum ClaimedSource: Equatable {
    /// No claim: the peer's address.
    case unclaimed(IPAddress?)
    /// The claim names a workload of the proven identity.
    case verified(IPAddress)
    /// The claim could not be verified; `used` is the peer's address.
    case rejected(claimed: IPAddress, used: IPAddress?, why: String)

    var address: IPAddress? {
        switch self {
        case .unclaimed(let address): address
        case .verified(let address): address
        case .rejected(_, let used, _): used
        }
    }

    static func resolve(claimed: IPAddress?, peerAddress: IPAddress?, identity: SpiffeID?, state: MeshState) -> ClaimedSource {
        guard let claimed else { return .unclaimed(peerAddress) }
        if claimed == peerAddress { return .verified(claimed) }
        guard let identity else {
            return .rejected(claimed: claimed, used: peerAddress, why: "the peer proved no identity")
        }
        // Several workloads may share an address (processes of one host).
        let there = state.workloads(at: claimed)
        guard !there.isEmpty else {
            return .rejected(claimed: claimed, used: peerAddress, why: "no workload has that address")
        }
        guard there.contains(where: { $0.knownIdentity(trustDomain: state.config.trustDomain) == identity }) else {
            return .rejected(claimed: claimed, used: peerAddress, why: "no workload of \(identity.uri) has that address")
        }
        return .verified(claimed)
    }
}
