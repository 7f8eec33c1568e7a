@testable import FerryKubernetes
import FerryMesh
import Testing

@Suite struct WireTests {
    static let stream = """
        {"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a","namespace":"shop","resourceVersion":"11"}}}
        {"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"17"}}}
        {"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (9)","reason":"Expired","code":410}}

        """

    @Test func linesSurviveEveryChunkBoundary() throws {
        let bytes = Array(Self.stream.utf8)
        for cut in 0...bytes.count {
            var splitter = LineSplitter()
            let lines = try splitter.append(bytes[..<cut]) + splitter.append(bytes[cut...])
            #expect(lines.count == 3, "cut at \(cut)")
            #expect(splitter.pendingCount == 0)
        }
    }

    @Test func crlfAndBlankLinesAreTolerated() throws {
        var splitter = LineSplitter()
        #expect(try splitter.append(Array("{\"a\":1}\r\n\r\n\n{\"b\":2}\n{\"c\"".utf8)) == ["{\"a\":1}", "{\"b\":2}"])
        #expect(splitter.pendingCount == 4)
    }

    @Test func overlongLinesAreRefused() {
        var splitter = LineSplitter(maximumLineLength: 8)
        #expect(throws: WireError.self) { try splitter.append(Array("0123456789".utf8)) }
    }

    @Test func eventsCarryTypeObjectAndStatus() throws {
        let events = try Self.stream.split(separator: "\n").map { try WatchEvent(line: $0) }
        #expect(events.map(\.type) == [.added, .bookmark, .error])
        #expect(events[0].object.key == ObjectKey(namespace: "shop", name: "a"))
        #expect(events[0].object.resourceVersion == "11")
        #expect(events[1].object.resourceVersion == "17")
        #expect(events[1].status == nil)
        #expect(events[2].status == APIStatus(code: 410, reason: "Expired", message: "too old resource version: 5 (9)"))
    }

    @Test func malformedEventsAreErrors() {
        #expect(throws: WireError.self) { try WatchEvent(line: #"{"type":"RENAMED","object":{}}"#) }
        #expect(throws: WireError.self) { try WatchEvent(line: #"{"type":"ADDED"}"#) }
        #expect(throws: WireError.self) { try WatchEvent(line: #"{"type":"ADDED","object":"#) }
    }

    @Test func listItemsGetTheirKindAndDecodeLikeFiles() throws {
        // Go's JSON escapes <, > and & and may escape '/'; labels can hold them.
        let page = try ListPage(json: """
            {"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"abc","remainingItemCount":3},
             "items":[{"metadata":{"name":"web-1","namespace":"shop","uid":"u-1","labels":{"note":"a\\u003cb\\/c","ferry.dev/mesh":"enabled"}},
                       "spec":{"nodeName":"node-a","serviceAccountName":"web","containers":[{"name":"c","ports":[{"name":"http","containerPort":8080}]}]},
                       "status":{"phase":"Running","podIP":"10.0.1.1","podIPs":[{"ip":"10.0.1.1"},{"ip":"fd00::1"}],"hostIP":null}}]}
            """, kind: "Pod", apiVersion: "v1")
        #expect(page.resourceVersion == "42")
        #expect(page.continueToken == "abc")
        #expect(page.remainingItemCount == 3)
        let item = try #require(page.items.first)
        #expect(item.kind == "Pod" && item.apiVersion == "v1")
        guard case .workload(let pod)? = try ResourceDecoder.decode(item.field(origin: "Pod shop/web-1")) else {
            Issue.record("not a workload")
            return
        }
        #expect(pod.labels["note"] == "a<b/c")
        #expect(pod.addresses == [IPAddress("10.0.1.1")!, IPAddress("fd00::1")!])
        #expect(pod.ports == ["http": 8080])
        #expect(pod.meshEnabled)
    }

    @Test func theLastPageHasNoContinueToken() throws {
        let page = try ListPage(json: #"{"kind":"NodeList","metadata":{"resourceVersion":"7","continue":""},"items":null}"#,
                                kind: "Node", apiVersion: "v1")
        #expect(page.continueToken == nil)
        #expect(page.items.isEmpty)
        #expect(throws: WireError.self) { try ListPage(json: #"{"items":[]}"#, kind: "Node", apiVersion: "v1") }
    }

    @Test func pathsAndQueriesAreWrittenAsTheAPIExpects() {
        #expect(APIResource(kind: "Pod", apiVersion: "v1", plural: "pods").path == "/api/v1/pods")
        #expect(APIResource(kind: "EndpointSlice", apiVersion: "discovery.k8s.io/v1", plural: "endpointslices").path
            == "/apis/discovery.k8s.io/v1/endpointslices")
        #expect(APIResource(kind: "ConfigMap", apiVersion: "v1", plural: "configmaps", namespace: "ferry-system").path
            == "/api/v1/namespaces/ferry-system/configmaps")
        #expect(QueryString.encode([("fieldSelector", "spec.nodeName=node-a,x!=y"), ("continue", "a+b/c=")])
            == "fieldSelector=spec.nodeName%3Dnode-a%2Cx%21%3Dy&continue=a%2Bb%2Fc%3D")
    }
}
