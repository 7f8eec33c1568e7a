import FerryMesh
@testable import FerryProxy
import FerryTelemetry
import Testing

/// Both reporters name a workload pair alike: the destination side's source
/// labels come from the baggage the source agent sends.
@Suite struct PeerWorkloadTests {
    static func workload(_ labels: [String: String]) -> Workload {
        Workload(name: "web-7d9f-abcde", namespace: "shop", labels: labels, addresses: [IPAddress("198.18.0.5")!], serviceAccount: "web")
    }

    @Test func baggageCarriesWhatTheSourceReporterWrites() throws {
        let state = try MeshState(resources: ResourceDecoder.decode(yaml: """
            apiVersion: ferry.dev/v1alpha1
            kind: MeshConfig
            metadata: {name: mesh}
            spec: {clusterName: east}
            """, file: "mesh.yaml"), generation: 1)
        #expect(state.config.clusterName == "east")
        let source = Self.workload(["app": "web", "service.istio.io/canonical-revision": "v2"])
        let sent = PeerWorkload(source, cluster: "east")
        let received = PeerWorkload(baggage: sent.baggage)
        #expect(received == sent)
        #expect(received?.key == "shop/web-7d9f-abcde")

        var atSource = TrafficLabels(reporter: .source)
        atSource.describeSource(source, state: state)
        var atDestination = TrafficLabels(reporter: .destination)
        atDestination.describeSource(received)
        for name in ["source_workload", "source_canonical_service", "source_canonical_revision", "source_version", "source_cluster"] {
            let a = atSource.pairs.first { $0.0 == name }?.1, b = atDestination.pairs.first { $0.0 == name }?.1
            #expect(a == b && a != "unknown", "\(name): \(a ?? "-") vs \(b ?? "-")")
        }
        #expect(atSource.pairs.first { $0.0 == "source_canonical_revision" }?.1 == "v2")
    }

    @Test func canonicalLabelsFollowIstiosOrder() {
        #expect(Self.workload([:]).canonicalService == "web-7d9f-abcde")
        #expect(Self.workload([:]).canonicalRevision == "latest")
        #expect(Self.workload(["app": "web", "version": "v1"]).canonicalService == "web")
        #expect(Self.workload(["app": "web", "version": "v1"]).canonicalRevision == "v1")
        let labelled = Self.workload(["app": "web", "app.kubernetes.io/name": "shop-web", "service.istio.io/canonical-name": "storefront",
                                      "app.kubernetes.io/version": "3.1", "version": "v1"])
        #expect(labelled.canonicalService == "storefront")
        #expect(labelled.canonicalRevision == "3.1")
    }

    @Test func aZtunnelPeersBaggageIsEnough() {
        let peer = PeerWorkload(baggage: ["k8s.namespace.name": "shop", "k8s.deployment.name": "web", "service.name": "web",
                                          "service.version": "v1"])
        #expect(peer?.name == "web" && peer?.metricName == "web" && peer?.canonicalRevision == "v1" && peer?.cluster == "unknown")
        #expect(PeerWorkload(baggage: ["service.name": "web"]) == nil, "no namespace")
    }
}
