import FerryMesh

extension KubernetesKind {
    public static let meshConfigMapName = "ferry-mesh"
    public static let meshConfigKey = "mesh.yaml"

    /// MeshConfig from the ConfigMap `ferry-mesh` (key `mesh.yaml`) in Ferry's
    /// namespace. The key holds a MeshConfig document, the same one the file
    /// source reads, so a file and a ConfigMap are interchangeable.
    public static func meshConfigMap(namespace: String) -> KubernetesKind {
        KubernetesKind(
            resource: APIResource(kind: "ConfigMap", apiVersion: "v1", plural: "configmaps", namespace: namespace),
            selectors: .init(fieldSelector: "metadata.name=\(meshConfigMapName)")
        ) { object in
            guard object.name == meshConfigMapName else { return nil }
            let origin = "ConfigMap \(object.key) \(meshConfigKey)"
            guard let text = WireJSON.string(WireJSON.child(object.node, "data"), meshConfigKey) else { return nil }
            let resources = try ResourceDecoder.decode(yaml: text, file: origin)
            var config: Resource?
            for located in resources {
                guard case .meshConfig = located.resource, config == nil else {
                    throw ResourceError(file: origin, line: located.line,
                                        message: "expected one MeshConfig document, found \(located.resource.key)")
                }
                config = located.resource
            }
            return config
        }
    }
}
