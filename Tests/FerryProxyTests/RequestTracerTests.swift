import FerryHTTP
import FerryMesh
import FerryTelemetry
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Spans leave over OTLP/HTTP (swift-otel) to a collector on loopback, as
/// children of the request's traceparent.
@Suite struct RequestTracerTests {
    static let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func aSpanReachesTheCollectorAsTheChildOfTheIncomingTraceparent() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let posts = Mutex<[Data]>([])
        let collector = HTTPServer(host: "127.0.0.1", port: 0, group: group, logger: Logger(label: "test")) { request in
            if request.path == "/v1/traces" { posts.withLock { $0.append(Data(request.bodyBytes)) } }
            return .text("{}", contentType: "application/json")
        }
        let port = try await collector.start()

        let tracer = RequestTracer(node: "node-a", logger: Logger(label: "test"))
        #expect(!tracer.isEnabled)
        let untraced = tracer.start("GET web", parent: TraceContext(traceparent: Self.parent))
        #expect(untraced.span == nil, "no settings, no span")
        #expect(untraced.context.traceID == "4bf92f3577b34da6a3ce929d0e0e4736", "the trace id is still kept")
        tracer.apply(TracingSettings(otlpEndpoint: "http://127.0.0.1:\(port)/v1/traces", encoding: .json, samplingPercent: 100))
        #expect(tracer.isEnabled)

        let (started, sent) = tracer.start("GET web.shop.svc.cluster.local", parent: TraceContext(traceparent: Self.parent))
        let span = try #require(started)
        #expect(sent.traceID == "4bf92f3577b34da6a3ce929d0e0e4736", "the trace id is kept")
        #expect(sent.spanID != "00f067aa0ba902b7", "this hop has its own span id")
        #expect(sent.sampled)
        span.end(status: 503, attributes: [("http.request.method", "GET"), ("ferry.response_flags", "UO")])
        await tracer.stop()  // flushes
        #expect(!tracer.isEnabled)

        let spans = posts.withLock { $0 }.flatMap { post in
            OTLPJSON.spans(in: (try? JSONSerialization.jsonObject(with: post)) as? [String: Any] ?? [:])
        }
        try #require(spans.count == 1, "\(spans)")
        let exported = spans[0]
        #expect(OTLPJSON.id(exported["traceId"]) == sent.traceID)
        #expect(OTLPJSON.id(exported["spanId"]) == sent.spanID)
        #expect(OTLPJSON.id(exported["parentSpanId"]) == "00f067aa0ba902b7")
        #expect(exported["name"] as? String == "GET web.shop.svc.cluster.local")
        let attributes = OTLPJSON.attributes(exported["attributes"])
        #expect(attributes["http.request.method"] == "GET")
        #expect(attributes["http.response.status_code"] == "503")
        #expect(attributes["ferry.response_flags"] == "UO")
        #expect((exported["status"] as? [String: Any])?["code"] as? Int == 2, "a 5xx is an error span")
        try await group.shutdownGracefully()
    }

    @Test func stoppingDoesNotWaitLongForASilentCollector() async throws {
        // Accepts connections, never answers.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let silent = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let tracer = RequestTracer(node: "node-a", logger: Logger(label: "test"))
        tracer.apply(TracingSettings(otlpEndpoint: "http://127.0.0.1:\(silent.localAddress!.port!)/v1/traces", samplingPercent: 100))
        tracer.start("GET web", parent: nil).span?.end(status: 200, attributes: [])
        let started = ContinuousClock.now
        await tracer.stop()
        #expect(ContinuousClock.now - started < .seconds(5), "gave up after about 2 s, not swift-otel's 10 s timeout")
        try await silent.close()
        try await group.shutdownGracefully()
    }

    @Test func samplingIsDecidedBeforeSwiftOTelIsAsked() async throws {
        let tracer = RequestTracer(node: "node-a", logger: Logger(label: "test"))
        tracer.apply(TracingSettings(otlpEndpoint: "http://127.0.0.1:9/v1/traces", samplingPercent: 0))
        let fresh = tracer.start("GET web", parent: nil)
        #expect(fresh.span == nil && !fresh.context.sampled, "0 %: a new trace is not sampled")
        let unsampledParent = TraceContext(traceID: "4bf92f3577b34da6a3ce929d0e0e4736", spanID: "00f067aa0ba902b7", sampled: false)
        let followedOff = tracer.start("GET web", parent: unsampledParent)
        #expect(followedOff.span == nil && !followedOff.context.sampled && followedOff.context.spanID != unsampledParent.spanID)
        let followedOn = tracer.start("GET web", parent: TraceContext(traceparent: Self.parent))
        #expect(followedOn.span != nil && followedOn.context.sampled, "a sampled parent is followed")

        tracer.apply(TracingSettings(otlpEndpoint: "http://127.0.0.1:9/v1/traces", samplingPercent: 25))
        let sampled = (0..<4000).filter { _ in tracer.start("GET web", parent: nil).context.sampled }.count
        #expect(abs(Double(sampled) / 4000 - 0.25) < 0.04, "\(sampled) of 4000 sampled at 25 %")
        await tracer.stop()
    }
}

/// Reading OTLP's JSON encoding (ids may come as hex, as the spec says, or
/// as protobuf JSON's base64).
enum OTLPJSON {
    static func spans(in body: [String: Any]) -> [[String: Any]] {
        (body["resourceSpans"] as? [[String: Any]] ?? []).flatMap { resource in
            (resource["scopeSpans"] as? [[String: Any]] ?? []).flatMap { $0["spans"] as? [[String: Any]] ?? [] }
        }
    }

    static func id(_ value: Any?) -> String? {
        guard let text = value as? String else { return nil }
        if text.allSatisfy(\.isHexDigit) && (text.count == 16 || text.count == 32) { return text.lowercased() }
        return Data(base64Encoded: text).map { $0.map { String(format: "%02x", $0) }.joined() }
    }

    static func attributes(_ value: Any?) -> [String: String] {
        var result: [String: String] = [:]
        for entry in value as? [[String: Any]] ?? [] {
            guard let key = entry["key"] as? String, let typed = (entry["value"] as? [String: Any])?.first else { continue }
            result[key] = "\(typed.value)"
        }
        return result
    }
}
