import FerryMesh
import Testing

/// A rejected document: the line the error must name and words its message must hold.
struct Rejection: Sendable, CustomTestStringConvertible {
    var name: String
    var spec: String
    var line: Int
    var message: String
    var apiVersion: String? = nil
    var testDescription: String { name }

    /// The spec starts on line 5.
    func yaml(kind: String, apiVersion defaultVersion: String) -> String {
        "apiVersion: \(apiVersion ?? defaultVersion)\nkind: \(kind)\nmetadata: {name: r, namespace: demo}\nspec:\n" + spec
    }

    func check(kind: String, apiVersion: String) throws {
        let error = try #require(throws: ResourceError.self) {
            try ResourceDecoder.decode(yaml: yaml(kind: kind, apiVersion: apiVersion), file: "traffic.yaml")
        }
        #expect(error.file == "traffic.yaml")
        #expect(error.line == line, "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }
}

func decodeOne(_ yaml: String) throws -> Resource {
    let resources = try ResourceDecoder.decode(yaml: yaml, file: "traffic.yaml")
    guard resources.count == 1, let resource = resources.first?.resource else {
        throw ResourceError(file: "traffic.yaml", line: 0, message: "expected one resource, got \(resources.count)")
    }
    return resource
}
