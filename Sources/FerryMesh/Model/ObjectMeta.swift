/// The Kubernetes object metadata Ferry reads.
public struct ObjectMeta: Hashable, Sendable, Codable {
    public var name: String
    public var namespace: String
    public var labels: [String: String]
    public var annotations: [String: String]
    public var uid: String?
    public var resourceVersion: String?
    /// RFC 3339, as the API server writes it; Istio breaks ties between policies
    /// of the same scope by age, so it is kept.
    public var creationTimestamp: String?

    public init(name: String, namespace: String = "default", labels: [String: String] = [:],
                annotations: [String: String] = [:], uid: String? = nil, resourceVersion: String? = nil,
                creationTimestamp: String? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.creationTimestamp = creationTimestamp
    }

    static let knownFields: Set<String> = [
        "name", "namespace", "labels", "annotations", "uid", "resourceVersion", "generation",
        "creationTimestamp", "managedFields", "ownerReferences", "finalizers", "generateName",
        "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
    ]

    /// Reads `metadata`; `namespaced` resources default to "default".
    public init(_ field: YAMLField?, in document: YAMLField, namespaced: Bool = true) throws {
        guard let field else { throw document.error("metadata is required") }
        let fields = try field.fields(allowing: Self.knownFields)
        name = try fields.requiredString("name", in: field)
        namespace = try fields.string("namespace") ?? (namespaced ? "default" : "")
        labels = try fields.stringMap("labels")
        annotations = try fields.stringMap("annotations")
        uid = try fields.string("uid")
        resourceVersion = try fields.string("resourceVersion")
        creationTimestamp = try fields.string("creationTimestamp")
        try Self.validateName(name, field: fields["name"]!)
    }

    /// DNS-1123 subdomain: what Kubernetes accepts for most names.
    static func validateName(_ name: String, field: YAMLField) throws {
        let allowed = name.allSatisfy { $0.isLowercase && $0.isASCII || $0.isNumber || $0 == "-" || $0 == "." }
        guard allowed, name.count <= 253, name.first?.isLetter == true || name.first?.isNumber == true else {
            throw field.error("metadata.name '\(name)' is not a valid name (lowercase letters, digits, '-' and '.')")
        }
    }
}

/// Label selection as Kubernetes and Istio use it: every pair must match.
public func labelsMatch(selector: [String: String], labels: [String: String]) -> Bool {
    selector.allSatisfy { labels[$0.key] == $0.value }
}
