import Synchronization

/// SplitMix64: a small, fast generator. Seeded, it replays a sequence (tests,
/// benchmarks); unseeded, it serves per-request draws on the data path (trace
/// and span ids, weighted backends, fault percentages, power of two choices)
/// without a getrandom(2) system call each, which profiling of the L7 path
/// put in the top ten. Not for secrets.
public struct SplitMix64: RandomNumberGenerator {
    /// Unseeded generators start from consecutive points of one process-wide
    /// sequence, seeded once by the system generator, so generators made on
    /// different threads never repeat one another.
    private static let seeds = Atomic<UInt64>({
        var system = SystemRandomNumberGenerator()
        return system.next()
    }())

    private var state: UInt64

    /// The same seed gives the same sequence.
    public init(seed: UInt64) {
        state = seed
    }

    /// A fresh, unpredictable-enough sequence.
    public init() {
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
