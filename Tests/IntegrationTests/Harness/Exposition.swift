import Foundation

/// Prometheus text exposition, read just enough for tests: one sample per
/// line, `name{label="value",...} number`.
struct Exposition {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    let samples: [Sample]

    init(_ text: String) {
        samples = text.split(separator: "\n").compactMap(Self.sample)
    }

    /// The sum over the samples of `name` whose labels include `labels`.
    func sum(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
            .reduce(0) { $0 + $1.value }
    }

    /// A histogram's mean over the matching series (sum / count); nil without observations.
    func mean(_ histogram: String, _ labels: [String: String] = [:]) -> Double? {
        let count = sum(histogram + "_count", labels)
        return count > 0 ? sum(histogram + "_sum", labels) / count : nil
    }

    private static func sample(_ line: Substring) -> Sample? {
        guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
            return nil
        }
        let series = line[..<space]
        guard let brace = series.firstIndex(of: "{") else { return Sample(name: String(series), labels: [:], value: value) }
        var labels: [String: String] = [:]
        var rest = series[series.index(after: brace)...].dropLast()  // without the closing brace
        while let equals = rest.firstIndex(of: "=") {
            let key = rest[..<equals].trimmingCharacters(in: [","])
            rest = rest[rest.index(equals, offsetBy: 2)...]  // past ="
            var text = ""
            var escaped = false
            var index = rest.startIndex
            while index < rest.endIndex {
                let character = rest[index]
                index = rest.index(after: index)
                if escaped { text.append(character); escaped = false } else if character == "\\" { escaped = true }
                else if character == "\"" { break } else { text.append(character) }
            }
            labels[key] = text
            rest = rest[index...]
        }
        return Sample(name: String(series[..<brace]), labels: labels, value: value)
    }
}
