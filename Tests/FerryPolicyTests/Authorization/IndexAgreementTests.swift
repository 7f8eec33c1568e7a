import FerryMesh
import FerryPolicy
import Testing

/// The index must never change an answer: on random meshes and requests the
/// indexed `Authorizer` and the linear scan must agree on every field of every
/// decision (which policy and rule decided, and the audit list too).
@Suite struct IndexAgreementTests {
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func indexedEqualsLinearScan(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let mesh = RandomMesh(random: &random)
        let state = try MeshState(resources: mesh.resources, generation: 1)
        let indexed = Authorizer(state: state)
        let linear = LinearScanAuthorizer(state: state)
        var outcomes: Set<AuthorizationDecision.Cause> = []
        for _ in 0..<2000 {
            let request = mesh.request(state: state, random: &random)
            let decision = indexed.evaluate(request)
            #expect(decision == linear.evaluate(request), "\(request)")
            outcomes.insert(decision.cause)
        }
        // The generator must exercise every branch, or agreement proves little.
        #expect(outcomes == [.deniedByPolicy, .allowedByPolicy, .noAllowPolicy, .noAllowPolicyMatched])
    }
}


/// Namespaces, workloads and policies drawn from small pools, so that scopes
/// overlap and every action and field gets exercised.
struct RandomMesh {
    static let namespaces = ["a", "b", "c", "d", "e", "istio-system"]
    /// Holds workloads but no policy of its own, so only root policies reach it.
    static let quietNamespace = "quiet"
    static let apps = ["web", "db", "cache"]
    static let identities = ["cluster.local/ns/a/sa/web", "cluster.local/ns/b/sa/db", "cluster.local/ns/c/sa/x", "other.td/ns/a/sa/web"]
    static let ports = [80, 443, 5432, 8080]
    static let paths = ["/", "/admin", "/api/v1/users", "/healthz"]

    var resources: [LocatedResource] = []

    init(random: inout SplitMix64) {
        var index = 0
        for namespace in Self.namespaces + [Self.quietNamespace] {
            for app in Self.apps {
                index += 1
                let workload = Workload(name: "\(app)-\(index)", namespace: namespace,
                                        labels: ["app": app, "tier": index % 2 == 0 ? "even" : "odd"],
                                        addresses: [IPAddress("10.1.0.\(index)")!])
                resources.append(LocatedResource(resource: .workload(workload), file: "random", line: index))
            }
        }
        for number in 0..<30 {
            let policy = Self.policy(number, random: &random)
            resources.append(LocatedResource(resource: .authorizationPolicy(policy), file: "random", line: 100 + number))
        }
    }

    static func policy(_ number: Int, random: inout SplitMix64) -> AuthorizationPolicy {
        let actions: [AuthorizationPolicy.Action] = [.allow, .allow, .deny, .audit]
        let selector: [String: String] = switch Int.random(in: 0..<3, using: &random) {
        case 0: [:]
        case 1: ["app": apps.randomElement(using: &random)!]
        default: ["tier": Bool.random(using: &random) ? "even" : "odd"]
        }
        let rules = (0..<Int.random(in: 0...2, using: &random)).map { _ in rule(random: &random) }
        let action = actions.randomElement(using: &random)!
        // The root namespace reaches every workload, so it gets few policies, and
        // its ALLOW policies select: a mesh-wide one would leave no workload
        // without ALLOW policies.
        let namespace = Int.random(in: 0..<10, using: &random) == 0 ? "istio-system" : namespaces.dropLast().randomElement(using: &random)!
        return AuthorizationPolicy(name: "p\(number)", namespace: namespace,
                                   selector: namespace == "istio-system" && action == .allow ? ["app": "cache"] : selector,
                                   action: action, rules: rules)
    }

    static func rule(random: inout SplitMix64) -> AuthorizationPolicy.Rule {
        var rule = AuthorizationPolicy.Rule()
        let parts = Int.random(in: 1...3, using: &random)  // bit 0: from, bit 1: to; never an empty rule
        if parts & 1 != 0 {
            var source = AuthorizationPolicy.Source()
            switch Int.random(in: 0..<4, using: &random) {
            case 0: source.principals = AttributeMatch([StringMatch(identities.randomElement(using: &random)!)])
            case 1: source.namespaces = AttributeMatch(not: [StringMatch(namespaces.randomElement(using: &random)!)])
            case 2: source.principals = AttributeMatch([.prefix("cluster.local/")])
            default: source.ipBlocks = AttributeMatch([CIDR("10.9.0.0/24")!])
            }
            rule.from = [source]
        }
        if parts & 2 != 0 {
            var operation = AuthorizationPolicy.Operation(ports: AttributeMatch([ports.randomElement(using: &random)!]))
            if Bool.random(using: &random) { operation.paths = AttributeMatch([.prefix("/api")]) }
            if Bool.random(using: &random) { operation.methods = AttributeMatch(not: [.exact("DELETE")]) }
            rule.to = [operation]
        }
        if Int.random(in: 0..<4, using: &random) == 0 {
            rule.when = [.requestHeader(name: "x-team", AttributeMatch([.presence]))]
        }
        return rule
    }

    func request(state: MeshState, random: inout SplitMix64) -> AuthorizationRequest {
        let destination = state.workloads.randomElement(using: &random)!
        let identity = Bool.random(using: &random) ? Self.identities.randomElement(using: &random) : nil
        let http: HTTPRequestAttributes? = Bool.random(using: &random)
            ? HTTPRequestAttributes(host: "svc", method: ["GET", "DELETE"].randomElement(using: &random)!,
                                    path: Self.paths.randomElement(using: &random)!,
                                    headers: Bool.random(using: &random) ? ["x-team": "blue"] : [:])
            : nil
        return AuthorizationRequest(
            destination: destination, destinationIP: destination.addresses[0],
            destinationPort: Self.ports.randomElement(using: &random)!,
            source: identity.flatMap { SpiffeID("spiffe://" + $0) },
            sourceIP: IPAddress(Bool.random(using: &random) ? "10.9.0.7" : "10.2.0.7")!, http: http
        )
    }
}
