import FerryMesh
import Testing

@Suite struct GatewayDurationTests {
    @Test(arguments: [
        ("10s", Duration.seconds(10)), ("500ms", .milliseconds(500)), ("1h30m", .seconds(5400)), ("0s", .zero),
        ("1m1s1ms", .milliseconds(61_001)), ("99999ms", .milliseconds(99_999)), ("1h1m1s1ms", .milliseconds(3_661_001)),
    ])
    func accepted(text: String, expected: Duration) {
        #expect(GatewayDuration.parse(text) == expected)
    }

    /// Go accepts several of these; the Gateway API's pattern does not.
    @Test(arguments: ["", "10", "1.5s", "10us", "-1s", " 1s", "1s ", "100000ms", "1h1m1s1ms1h", "s", "1d"])
    func refused(text: String) {
        #expect(GatewayDuration.parse(text) == nil)
    }
}
