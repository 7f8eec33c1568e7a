/// One page of a list response: `{"kind": "PodList", "metadata": {"resourceVersion",
/// "continue", "remainingItemCount"}, "items": [...]}`.
public struct ListPage: Sendable {
    public var items: [APIObject]
    /// The list's resourceVersion: where a watch that follows it starts.
    public var resourceVersion: String
    /// Empty or absent on the last page.
    public var continueToken: String?
    public var remainingItemCount: Int?

    public init(items: [APIObject], resourceVersion: String, continueToken: String? = nil, remainingItemCount: Int? = nil) {
        self.items = items
        self.resourceVersion = resourceVersion
        self.continueToken = continueToken
        self.remainingItemCount = remainingItemCount
    }

    /// Items in a list carry no `kind`/`apiVersion`; they are set from the kind asked for.
    public init(json: String, kind: String, apiVersion: String) throws {
        let root = try WireJSON.parse(json)
        let metadata = WireJSON.child(root, "metadata")
        guard let version = WireJSON.string(metadata, "resourceVersion"), !version.isEmpty else {
            throw WireError("\(kind) list without metadata.resourceVersion")
        }
        var items: [APIObject] = []
        switch WireJSON.child(root, "items") {
        case .sequence(let sequence)?:
            for node in sequence {
                var item = try APIObject(node: node)
                item.setTypeIfMissing(kind: kind, apiVersion: apiVersion)
                items.append(item)
            }
        case .scalar(let scalar)? where WireJSON.isNull(scalar):
            break
        case nil:
            break
        default:
            throw WireError("\(kind) list: items is not an array")
        }
        let token = WireJSON.string(metadata, "continue")
        self.init(items: items, resourceVersion: version, continueToken: token?.isEmpty == false ? token : nil,
                  remainingItemCount: WireJSON.int(metadata, "remainingItemCount"))
    }
}
