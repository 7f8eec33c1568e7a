/// `ferry-bench SCENARIO [options]`: decision-cost benchmarks, meant for a
/// release build (`swift build -c release --product ferry-bench`).
@main
enum FerryBench {
    static let usage = """
    usage: ferry-bench policy [--decisions N] [--batch B] [--seed S]

      policy   AuthorizationPolicy decisions: 1,000 policies over 100 namespaces and
               1,000 workloads, mixed L4/L7 and allow/deny, indexed Authorizer
               against a linear scan of every policy
    """

    static func main() throws {
        var arguments = Array(CommandLine.arguments.dropFirst())
        guard let scenario = arguments.first else { fail(usage) }
        arguments.removeFirst()
        var options = PolicyScenario.Options()
        while let flag = arguments.first {
            arguments.removeFirst()
            guard let text = arguments.first, let value = Int(text), value > 0 else { fail("\(flag) needs a positive number\n\n\(usage)") }
            arguments.removeFirst()
            switch flag {
            case "--decisions": options.decisions = value
            case "--batch": options.batch = value
            case "--seed": options.seed = UInt64(value)
            default: fail("unknown option \(flag)\n\n\(usage)")
            }
        }
        switch scenario {
        case "policy": try PolicyScenario(options: options).run()
        default: fail("unknown scenario '\(scenario)'\n\n\(usage)")
        }
    }

    static func fail(_ message: String) -> Never {
        print(message)
        exit(2)
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
