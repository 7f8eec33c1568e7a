@testable import FerryProxy
import NIOHTTP1
import Testing

@Suite struct HopByHopTests {
    @Test func endToEndFieldsPassUntouchedAndInOrder() {
        var headers: HTTPHeaders = ["Host": "web", "Accept": "*/*", "X-Trace": "1", "accept": "text/plain"]
        let before = headers
        HopByHop.strip(&headers)
        #expect(headers == before)
    }

    @Test func hopByHopFieldsAndThoseConnectionListsAreDropped() {
        var headers: HTTPHeaders = [
            "Host": "web", "Connection": "keep-alive, X-Session", "Keep-Alive": "timeout=5",
            "x-session": "abc", "Transfer-Encoding": "chunked", "Upgrade": "h2c", "X-Kept": "yes",
        ]
        HopByHop.strip(&headers)
        #expect(headers.map(\.name) == ["Host", "X-Kept"])
    }

    @Test func teTrailersSurvivesForGRPC() {
        var headers: HTTPHeaders = ["te": "Trailers", "content-type": "application/grpc"]
        HopByHop.strip(&headers)
        #expect(headers["te"] == ["trailers"])
        var other: HTTPHeaders = ["te": "gzip"]
        HopByHop.strip(&other)
        #expect(!other.contains(name: "te"))
    }
}
