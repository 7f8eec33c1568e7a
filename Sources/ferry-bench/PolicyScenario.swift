import FerryMesh
import FerryPolicy

/// `ferry-bench policy`: cost per AuthorizationPolicy decision, indexed
/// `Authorizer` against `LinearScanAuthorizer` on the same requests.
struct PolicyScenario {
    struct Options {
        var decisions = 200_000
        var batch = 32
        var seed: UInt64 = 1
    }

    /// The brief's budget for the indexed engine's median.
    static let p50TargetNanoseconds = 1000.0

    let options: Options

    func run() throws {
        let clock = ContinuousClock()
        let yaml = PolicyMesh.yaml()
        var began = clock.now
        let resources = try ResourceDecoder.decode(yaml: yaml, file: "bench.yaml")
        let state = try MeshState(resources: resources, generation: 1)
        let decoded = began.duration(to: clock.now)
        began = clock.now
        let indexed = Authorizer(state: state)
        let built = began.duration(to: clock.now)
        let linear = LinearScanAuthorizer(state: state)

        let requests = PolicyMesh.requests(options.decisions, in: state, seed: options.seed)
        // Before timing anything: both engines must give the same answers.
        var disagreements = 0
        var causes: [AuthorizationDecision.Cause: Int] = [:]
        for request in requests {
            let decision = indexed.evaluate(request)
            if decision != linear.evaluate(request) { disagreements += 1 }
            causes[decision.cause, default: 0] += 1
        }
        guard disagreements == 0 else {
            print("error: the indexed and linear engines disagree on \(disagreements) of \(requests.count) requests")
            exit(1)
        }

        let timer = DecisionTimer(batch: options.batch)
        let fast = timer.measure(requests) { indexed.evaluate($0).allowed }
        let slow = timer.measure(requests) { linear.evaluate($0).allowed }

        let l7 = requests.filter { $0.http != nil }.count
        print("""
        scenario policy: \(state.authorizationPolicies.count) AuthorizationPolicies, \(Set(state.workloads.map(\.namespace) + state.authorizationPolicies.map(\.namespace)).count) namespaces, \
        \(state.workloads.count) workloads
        requests: \(requests.count) (\(percent(l7, requests.count)) L7), \(percent(fast.allowed, fast.decisions)) allowed; \
        \(causes.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "))
        decode + MeshState: \(milliseconds(decoded)) ms, Authorizer index: \(milliseconds(built)) ms
        timing: batches of \(options.batch) decisions, p50/p99 over per-batch means (see DecisionTimer)

        """)
        let rows = [
            ["engine", "decisions", "p50 ns", "p99 ns", "mean ns"],
            ["indexed", "\(fast.decisions)", format(fast.p50), format(fast.p99), format(fast.mean)],
            ["linear scan", "\(slow.decisions)", format(slow.p50), format(slow.p99), format(slow.mean)],
            ["ratio", "", format(slow.p50 / fast.p50, "x"), format(slow.p99 / fast.p99, "x"), format(slow.mean / fast.mean, "x")],
        ]
        printTable(rows)
        let met = fast.p50 <= Self.p50TargetNanoseconds
        print("\np50 target <= \(Int(Self.p50TargetNanoseconds)) ns: \(met ? "met" : "NOT met") (\(format(fast.p50)) ns)")
    }

    func percent(_ part: Int, _ whole: Int) -> String { "\(whole == 0 ? 0 : part * 100 / whole)%" }
    func milliseconds(_ duration: Duration) -> String { format(DecisionTimer.nanoseconds(duration) / 1e6) }

    func format(_ value: Double, _ suffix: String = "") -> String {
        let digits = value >= 100 ? 0 : 1
        let scale = digits == 0 ? 1.0 : 10.0
        let rounded = (value * scale).rounded() / scale
        return (digits == 0 ? "\(Int(rounded))" : "\(rounded)") + suffix
    }

    func printTable(_ rows: [[String]]) {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max()! }
        for row in rows {
            let cells = row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + pad : pad + cell
            }
            print(cells.joined(separator: "  "))
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
