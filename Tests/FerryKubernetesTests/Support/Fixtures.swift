/// API objects as the API server holds them, for the fake server.
enum Fixture {
    static func node(_ name: String, ip: String) -> JSON {
        ["kind": "Node", "apiVersion": "v1", "metadata": ["name": .string(name)],
         "status": ["addresses": [["type": "InternalIP", "address": .string(ip)], ["type": "Hostname", "address": .string(name)]]]]
    }

    static func namespace(_ name: String, meshed: Bool) -> JSON {
        ["kind": "Namespace", "apiVersion": "v1",
         "metadata": ["name": .string(name), "labels": meshed ? ["ferry.dev/mesh": "enabled"] : [:]]]
    }

    static func pod(_ name: String, namespace: String = "shop", node: String = "node-a", ip: String,
                    labels: [String: String] = ["app": "web"], serviceAccount: String = "web",
                    phase: String = "Running") -> JSON {
        ["kind": "Pod", "apiVersion": "v1",
         "metadata": ["name": .string(name), "namespace": .string(namespace), "labels": JSON(labels)],
         "spec": ["nodeName": .string(node), "serviceAccountName": .string(serviceAccount),
                  "containers": [["name": "app", "image": "app:1", "ports": [["name": "http", "containerPort": 8080]]]]],
         "status": ["phase": .string(phase), "podIP": .string(ip), "podIPs": [["ip": .string(ip)]]]]
    }

    static func service(_ name: String, namespace: String = "shop", clusterIP: String,
                        selector: [String: String]? = ["app": "web"]) -> JSON {
        var spec: JSON = ["clusterIP": .string(clusterIP), "clusterIPs": [.string(clusterIP)],
                          "ports": [["name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"]]]
        if let selector { spec["selector"] = JSON(selector) }
        return ["kind": "Service", "apiVersion": "v1", "metadata": ["name": .string(name), "namespace": .string(namespace)], "spec": spec]
    }

    /// Endpoints: (address, node, pod name).
    static func endpointSlice(_ name: String, namespace: String = "shop", service: String,
                              endpoints: [(String, String, String)]) -> JSON {
        ["kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
         "metadata": ["name": .string(name), "namespace": .string(namespace),
                      "labels": ["kubernetes.io/service-name": .string(service)]],
         "addressType": "IPv4",
         "ports": [["name": "http", "port": 8080, "protocol": "TCP"]],
         "endpoints": .array(endpoints.map { address, node, pod -> JSON in
             ["addresses": [.string(address)], "nodeName": .string(node), "conditions": ["ready": true],
              "targetRef": ["kind": "Pod", "namespace": .string(namespace), "name": .string(pod)]]
         })]
    }

    static func authorizationPolicy(_ name: String, namespace: String = "shop", action: String = "DENY",
                                    principals: [String] = ["cluster.local/ns/shop/sa/bad"]) -> JSON {
        ["kind": "AuthorizationPolicy", "apiVersion": "security.istio.io/v1",
         "metadata": ["name": .string(name), "namespace": .string(namespace)],
         "spec": ["action": .string(action), "rules": [["from": [["source": ["principals": JSON(principals)]]]]]]]
    }

    static func peerAuthentication(_ name: String, namespace: String = "shop", mode: String) -> JSON {
        ["kind": "PeerAuthentication", "apiVersion": "security.istio.io/v1",
         "metadata": ["name": .string(name), "namespace": .string(namespace)], "spec": ["mtls": ["mode": .string(mode)]]]
    }

    static func meshConfigMap(namespace: String = "ferry-system", trustDomain: String) -> JSON {
        ["kind": "ConfigMap", "apiVersion": "v1",
         "metadata": ["name": "ferry-mesh", "namespace": .string(namespace)],
         "data": ["mesh.yaml": .string("""
             apiVersion: ferry.dev/v1alpha1
             kind: MeshConfig
             metadata: {name: mesh}
             spec: {trustDomain: \(trustDomain)}
             """)]]
    }

    static func delete(_ kind: String, _ namespace: String, _ name: String) -> JSON {
        ["op": "delete", "kind": .string(kind), "namespace": .string(namespace), "name": .string(name)]
    }

    static func apply(_ object: JSON) -> JSON { ["op": "apply", "object": object] }
}
