/// Picks an index with probability weight / sum of weights.
enum WeightedChoice {
    /// nil when every weight is 0.
    static func pick<R: RandomNumberGenerator>(_ weights: [Int], using rng: inout R) -> Int? {
        let total = weights.reduce(0, +)
        guard total > 0 else { return nil }
        var draw = Int.random(in: 0..<total, using: &rng)
        for (index, weight) in weights.enumerated() {
            if draw < weight { return index }
            draw -= weight
        }
        return nil  // unreachable: draw < total
    }
}
