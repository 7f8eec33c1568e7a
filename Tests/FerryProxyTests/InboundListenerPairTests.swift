@testable import FerryProxy
import Testing

/// Which :15006 pair a pod namespace gets, and what the reconciler writes.
@Suite struct InboundListenerPairTests {
    @Test func aRestartTakesOverThePairTheMapStillNames() {
        #expect(PodListeners.choosePair(recorded: [5], taken: []) == 5)
        #expect(PodListeners.choosePair(recorded: [5, 9], taken: [5]) == 9)
    }

    @Test func otherwiseTheLowestFreePair() {
        #expect(PodListeners.choosePair(recorded: [], taken: []) == 1)
        #expect(PodListeners.choosePair(recorded: [3], taken: [1, 3]) == 2)
        #expect(PodListeners.choosePair(recorded: [], taken: Set((1...256).map { UInt16($0) })) == nil)
        #expect(PodListeners.choosePair(recorded: [300], taken: []) == 1, "a pair outside the SOCKMAP is never reused")
    }

    @Test func theMapIsKeptUntilPodListenersPublishes() {
        let pairs = InboundListenerPairs()
        #expect(pairs.listener(for: "demo/a", current: 4) == 4, "before the first publication: what the map says")
        #expect(pairs.listener(for: "demo/a", current: nil) == 0)
        #expect(pairs.publish([:]), "the first publication counts as a change, even empty")
        #expect(pairs.listener(for: "demo/a", current: 4) == 0)
        #expect(pairs.publish(["demo/a": 2]))
        #expect(!pairs.publish(["demo/a": 2]), "the same table again: no reconciler pass needed")
        #expect(pairs.listener(for: "demo/a", current: 4) == 2)
        #expect(pairs.listener(for: "demo/b", current: 4) == 0, "not in a pod namespace: the node's listener")
    }
}
