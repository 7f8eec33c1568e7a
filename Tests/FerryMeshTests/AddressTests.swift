import FerryMesh
import Testing

@Suite struct AddressTests {
    @Test(arguments: [
        ("198.18.0.1", true), ("2001:db8::1", false), ("::ffff:198.18.0.1", true),
    ])
    func parsesAddresses(text: String, isIPv4: Bool) throws {
        let address = try #require(IPAddress(text))
        #expect(address.isIPv4 == isIPv4)
    }

    @Test func mappedIPv4EqualsIPv4() {
        #expect(IPAddress("::ffff:198.18.0.1") == IPAddress("198.18.0.1"))
        #expect(IPAddress("198.18.0.1")?.description == "198.18.0.1")
    }

    @Test(arguments: ["", "198.18.0", "198.18.0.256", "not-an-ip", "2001:db8:::1"])
    func rejectsBadAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func loopback() {
        #expect(IPAddress("127.0.0.1")!.isLoopback)
        #expect(IPAddress("127.1.2.3")!.isLoopback)
        #expect(IPAddress("::1")!.isLoopback)
        #expect(!IPAddress("198.18.0.1")!.isLoopback)
    }

    @Test func endpoints() throws {
        #expect(IPEndpoint("198.18.0.1:80")?.port == 80)
        #expect(IPEndpoint("[2001:db8::1]:8080")?.ip == IPAddress("2001:db8::1"))
        #expect(IPEndpoint("[2001:db8::1]:8080")?.description == "[2001:db8::1]:8080")
        #expect(IPEndpoint("198.18.0.1") == nil)
        #expect(IPEndpoint("198.18.0.1:70000") == nil)
    }

    @Test func cidrContainment() throws {
        let block = try #require(CIDR("198.18.0.0/15"))
        #expect(block.contains(IPAddress("198.19.255.255")!))
        #expect(!block.contains(IPAddress("198.20.0.0")!))
        #expect(block.description == "198.18.0.0/15")
        #expect(CIDR("0.0.0.0/0")!.contains(IPAddress("203.0.113.9")!))
        #expect(!CIDR("0.0.0.0/0")!.contains(IPAddress("2001:db8::1")!))
        #expect(CIDR("2001:db8::/32")!.contains(IPAddress("2001:db8:ffff::1")!))
        #expect(CIDR("198.18.0.7")?.description == "198.18.0.7/32")
        #expect(CIDR("198.18.0.0/33") == nil)
        #expect(CIDR("198.18.0.0/-1") == nil)
        #expect(CIDR("198.18.0.5/24")?.network == IPAddress("198.18.0.0"))
    }

    @Test(arguments: [("24h", 86400.0), ("1m30s", 90.0), ("250ms", 0.25), ("1.5s", 1.5), ("0", 0.0), ("2562047h", 9_223_369_200.0)])
    func goDurations(text: String, seconds: Double) throws {
        let duration = try #require(GoDuration.parse(text))
        #expect(abs(duration.seconds - seconds) < 1e-9)
    }

    /// Past Go's range (2^63 ns): refused, never a trap in the agent.
    @Test(arguments: ["", "5", "1x", "h", "-1s", "18446744073709551616ms", "99999999999999999h", "1e20s",
                      "9223372036854775807s", "2562048h", "2562047h2562047h", "9223372036854775808ns"])
    func badGoDurations(text: String) {
        #expect(GoDuration.parse(text) == nil)
    }

    @Test func spiffeIDs() throws {
        let id = try #require(SpiffeID("spiffe://cluster.local/ns/default/sa/echo"))
        #expect(id.namespace == "default")
        #expect(id.serviceAccount == "echo")
        #expect(id.principal == "cluster.local/ns/default/sa/echo")
        #expect(SpiffeID("spiffe://cluster.local/ns/default") == nil)
        #expect(SpiffeID("https://cluster.local/ns/a/sa/b") == nil)
    }
}
