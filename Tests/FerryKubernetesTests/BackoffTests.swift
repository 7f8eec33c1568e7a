import FerryKubernetes
import FerryMesh
import Testing

@Suite struct BackoffTests {
    @Test func ceilingsDoubleUpToTheCap() {
        let backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(30))
        let ceilings = (1...10).map { backoff.ceiling(afterFailures: $0) }
        #expect(ceilings == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16),
                             .seconds(30), .seconds(30), .seconds(30), .seconds(30)])
        #expect(backoff.ceiling(afterFailures: 10_000) == .seconds(30))
    }

    @Test func delaysAreJitteredBetweenHalfTheCeilingAndIt() {
        let backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(2))
        var random = SplitMix64(seed: 7)
        for failures in 1...8 {
            let ceiling = backoff.ceiling(afterFailures: failures)
            let delays = (0..<200).map { _ in backoff.delay(afterFailures: failures, using: &random) }
            #expect(delays.allSatisfy { $0 >= ceiling / 2 && $0 <= ceiling })
            // Spread out, so agents do not reconnect in step.
            #expect(Set(delays).count > 150)
            #expect(delays.min()! < ceiling * 0.6 && delays.max()! > ceiling * 0.9)
        }
    }
}
