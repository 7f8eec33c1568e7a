/// Readers shared by the traffic kinds (HTTPRoute, DestinationRule,
/// VirtualService, RateLimit). Each names the field's path, the bad value and
/// its line.
extension YAMLField {
    func double() throws -> Double {
        guard case .scalar(let scalar) = node, let value = Double(scalar.string), value.isFinite else {
            throw error("\(path) must be a number")
        }
        return value
    }

    /// A Gateway API duration ("10s", "500ms", "1h30m").
    func gatewayDuration() throws -> Duration {
        let text = try string()
        guard let duration = GatewayDuration.parse(text) else {
            throw error("\(path): '\(text)' is not a Gateway API duration (digits followed by h, m, s or ms, e.g. 10s or 500ms)")
        }
        return duration
    }

    /// An Istio duration ("30s", "1m", "10ms", "1.5s"), at least `minimum`.
    func istioDuration(atLeast minimum: Duration = .milliseconds(1)) throws -> Duration {
        let text = try string()
        guard let duration = GoDuration.parse(text) else {
            throw error("\(path): '\(text)' is not a duration (e.g. 30s, 1m, 10ms)")
        }
        guard duration >= minimum else {
            throw error("\(path): '\(text)' must be at least \(GoDuration.format(minimum))")
        }
        return duration
    }

    /// An integer in `range`, named with its bounds when outside.
    func int(in range: ClosedRange<Int>) throws -> Int {
        let value = try int()
        guard range.contains(value) else {
            throw error("\(path): \(value) is out of range (\(range.lowerBound)-\(range.upperBound))")
        }
        return value
    }
}

extension Dictionary where Key == String, Value == YAMLField {
    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        try self[key].flatMap { $0.isNull ? nil : try $0.int(in: range) }
    }

    /// Refuses, by name and with `reason`, fields Ferry knows but does not implement.
    func refuse(_ keys: Set<String>, in parent: YAMLField, reason: (String) -> String) throws {
        for key in keys.sorted() where self[key] != nil {
            throw parent.error("\(parent.path.isEmpty ? key : parent.path + "." + key) is not supported: \(reason(key))", atKey: key)
        }
    }

    /// A field that must hold a mapping, for blocks that are required.
    func required(_ key: String, in parent: YAMLField) throws -> YAMLField {
        guard let field = self[key], !field.isNull else {
            throw parent.error("\(parent.path.isEmpty ? key : parent.path + "." + key) is required")
        }
        return field
    }
}
