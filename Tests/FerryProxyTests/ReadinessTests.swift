@testable import FerryProxy
import Testing

@Suite struct ReadinessTests {
    @Test func waitsForAMeshStateAndBothListeners() {
        let readiness = Readiness()
        #expect(readiness.waitingFor(meshStateGeneration: 0)
            == ["mesh state", "outbound listener (:15001)", "inbound listener (:15006)"])
        readiness.done(.inboundListener)
        #expect(readiness.waitingFor(meshStateGeneration: 1) == ["outbound listener (:15001)"])
        readiness.done(.outboundListener)
        readiness.done(.outboundListener)
        #expect(readiness.waitingFor(meshStateGeneration: 0) == ["mesh state"])
        #expect(readiness.waitingFor(meshStateGeneration: 3).isEmpty)
    }
}
