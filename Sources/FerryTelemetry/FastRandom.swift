import Synchronization

/// SplitMix64 for per-request draws (trace and span ids, weighted backends,
/// fault percentages, power of two choices) without a getrandom(2) system call
/// each: profiling the L7 path showed those calls in the top ten. Each value
/// starts from a process-wide sequence seeded once by the system generator, so
/// generators made on different threads never repeat one another. Not for
/// secrets.
public struct FastRandom: RandomNumberGenerator {
    private static let seeds = Atomic<UInt64>({
        var system = SystemRandomNumberGenerator()
        return system.next()
    }())

    private var state: UInt64

    public init() {
        // Each generator takes the next point of the global sequence and mixes it.
        var seed = Self.seeds.wrappingAdd(Self.golden, ordering: .relaxed).newValue
        state = Self.mix(&seed)
    }

    public mutating func next() -> UInt64 {
        Self.mix(&state)
    }

    private static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    private static func mix(_ state: inout UInt64) -> UInt64 {
        state &+= golden
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
