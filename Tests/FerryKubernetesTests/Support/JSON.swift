import Foundation

/// JSON values written as Swift literals, Sendable so fixtures can be shared.
enum JSON: Sendable, Hashable, ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral, ExpressibleByStringLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral {
    case object([String: JSON])
    case array([JSON])
    case string(String)
    case number(Double)
    case bool(Bool)

    init(dictionaryLiteral elements: (String, JSON)...) { self = .object(Dictionary(uniqueKeysWithValues: elements)) }
    init(arrayLiteral elements: JSON...) { self = .array(elements) }
    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .number(Double(value)) }
    init(floatLiteral value: Double) { self = .number(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(_ map: [String: String]) { self = .object(map.mapValues { .string($0) }) }
    init(_ list: [String]) { self = .array(list.map { .string($0) }) }

    subscript(key: String) -> JSON? {
        get { if case .object(let map) = self { map[key] } else { nil } }
        set {
            guard case .object(var map) = self else { return }
            map[key] = newValue
            self = .object(map)
        }
    }

    /// What JSONSerialization takes.
    var foundation: Any {
        switch self {
        case .object(let map): map.mapValues(\.foundation)
        case .array(let list): list.map(\.foundation)
        case .string(let text): text
        case .number(let number): number == number.rounded() && abs(number) < 1e15 ? Int(number) as Any : number
        case .bool(let flag): flag
        }
    }

    var data: Data { try! JSONSerialization.data(withJSONObject: foundation, options: [.sortedKeys]) }
}

typealias JSONObject = JSON
