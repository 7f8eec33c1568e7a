import FerryBPF
import Testing

@Suite struct CapabilitiesTests {
    static func status(_ capEff: String) -> String { "Name:\tferryd\nCapInh:\t0000000000000000\nCapEff:\t\(capEff)\nCapBnd:\t000001ffffffffff\n" }

    @Test func rootHasEverything() {
        #expect(Capabilities.missing(status: Self.status("000001ffffffffff")).isEmpty)
    }

    @Test func exactlyTheThreeAreEnough() {
        let mask = (UInt64(1) << 39) | (1 << 12) | (1 << 21)
        #expect(Capabilities.missing(status: Self.status(String(mask, radix: 16))).isEmpty)
    }

    @Test func namesWhatIsMissing() {
        #expect(Capabilities.missing(status: Self.status(String(UInt64(1) << 12, radix: 16))) == ["CAP_BPF", "CAP_SYS_ADMIN"])
        #expect(Capabilities.missing(status: "garbage") == ["CAP_BPF", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"])
    }
}
