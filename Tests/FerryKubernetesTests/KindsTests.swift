@testable import FerryKubernetes
import FerryMesh
import Logging
import Testing

@Suite struct KindsTests {
    static let kinds = KubernetesKind.meshKinds(node: "node-a", meshConfigNamespace: "ferry-system")

    func kind(_ name: String) -> KubernetesKind { Self.kinds.first { $0.name == name }! }

    @Test func podsAreNarrowedToTheNode() {
        #expect(kind("Pod").selectors.fieldSelector == "spec.nodeName=node-a")
        #expect(KubernetesKind.meshKinds(node: nil, meshConfigNamespace: "x").first { $0.name == "Pod" }?.selectors.fieldSelector == nil)
        #expect(kind("ConfigMap").resource.path == "/api/v1/namespaces/ferry-system/configmaps")
    }

    /// A kind marked undecodable must really be refused by FerryMesh: once it
    /// learns to decode it, this fails until `ResourceDecoder.decodedKinds` says so.
    @Test(arguments: kinds.filter { !$0.isDecodable }.map(\.name))
    func kindsLeftOutAreTheOnesFerryMeshCannotDecode(name: String) throws {
        let resource = kind(name).resource
        let object = try APIObject(json: #"{"kind":"\#(name)","apiVersion":"\#(resource.apiVersion)","metadata":{"name":"x","namespace":"ns"},"spec":{}}"#)
        #expect {
            _ = try ResourceDecoder.decode(object.field(origin: "probe"))
        } throws: { error in
            (error as? ResourceError)?.message.contains("is not supported by Ferry") == true
        }
    }

    @Test func finishedPodsAreNoWorkloads() throws {
        let pod = #"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"job","namespace":"ns"},"spec":{"nodeName":"node-a"},"status":{"phase":"PHASE","podIP":"10.0.0.9"}}"#
        #expect(try kind("Pod").convert(APIObject(json: pod.replacingOccurrences(of: "PHASE", with: "Running"))) != nil)
        #expect(try kind("Pod").convert(APIObject(json: pod.replacingOccurrences(of: "PHASE", with: "Succeeded"))) == nil)
        #expect(try kind("Pod").convert(APIObject(json: pod.replacingOccurrences(of: "PHASE", with: "Failed"))) == nil)
    }

    func configMap(_ yaml: String?) throws -> APIObject {
        let data = yaml.map { #","data":{"mesh.yaml":"\#($0.replacingOccurrences(of: "\n", with: "\\n"))"}"# } ?? ""
        return try APIObject(json: #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"ferry-mesh","namespace":"ferry-system"}\#(data)}"#)
    }

    @Test func meshConfigComesFromTheConfigMap() throws {
        let document = "apiVersion: ferry.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: mesh}\nspec: {trustDomain: example.org, failMode: closed}"
        guard case .meshConfig(_, let config)? = try kind("ConfigMap").convert(configMap(document)) else {
            Issue.record("no MeshConfig")
            return
        }
        #expect(config.trustDomain == "example.org")
        #expect(config.failMode == .closed)
        #expect(try kind("ConfigMap").convert(configMap(nil)) == nil)
        #expect {
            try kind("ConfigMap").convert(configMap(document + "\n---\n" + document))
        } throws: { error in
            "\(error)".contains("ConfigMap ferry-system/ferry-mesh mesh.yaml") && "\(error)".contains("expected one MeshConfig")
        }
        #expect(throws: ResourceError.self) {
            try kind("ConfigMap").convert(configMap("apiVersion: ferry.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: m}\nspec: {failMode: sometimes}"))
        }
    }

    @Test func theCacheKeepsTheLastGoodVersionOfABadUpdate() throws {
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let cache = ResourceCache(kinds: ["AuthorizationPolicy"], logger: quiet)
        let policies = kind("AuthorizationPolicy")
        func policy(_ action: String) throws -> APIObject {
            try APIObject(json: #"{"kind":"AuthorizationPolicy","apiVersion":"security.istio.io/v1","metadata":{"name":"p","namespace":"ns"},"spec":{"action":"\#(action)"}}"#)
        }
        #expect(!cache.snapshot().synced)
        cache.replace(policies, with: [try policy("DENY")])
        #expect(cache.snapshot().synced)
        cache.upsert(policies, try policy("CUSTOM"))
        var snapshot = cache.snapshot()
        guard case .authorizationPolicy(let kept)? = snapshot.resources.first?.resource else {
            Issue.record("the policy is gone")
            return
        }
        #expect(kept.action == .deny)
        #expect(snapshot.problems.map(\.file) == ["AuthorizationPolicy ns/p"])
        // A relist with the object still bad keeps it too; a deletion removes it.
        cache.replace(policies, with: [try policy("CUSTOM")])
        #expect(cache.snapshot().resources.count == 1)
        cache.delete(policies, try policy("DENY"))
        snapshot = cache.snapshot()
        #expect(snapshot.resources.isEmpty && snapshot.problems.isEmpty)
    }
}
