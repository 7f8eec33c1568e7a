import FerryMesh
import FerryTelemetry
import NIOHPACK

/// The HTTP/2 CONNECT request that opens an HBONE stream, as ztunnel sends it:
/// `:authority` is the destination workload's ip:port, `forwarded` names the
/// original client, `traceparent` carries the trace, and `baggage` describes the
/// source workload (so the destination can label its metrics).
struct HBONERequest: Sendable, Equatable {
    var authority: IPEndpoint
    var forwardedFor: IPAddress?
    var trace: TraceContext?
    var baggage: [String: String]

    init(authority: IPEndpoint, forwardedFor: IPAddress? = nil, trace: TraceContext? = nil, baggage: [String: String] = [:]) {
        self.authority = authority
        self.forwardedFor = forwardedFor
        self.trace = trace
        self.baggage = baggage
    }

    var headers: HPACKHeaders {
        var headers: HPACKHeaders = [":method": "CONNECT", ":authority": authority.description]
        if let forwardedFor {
            headers.add(name: "forwarded", value: forwardedFor.isIPv4 ? "for=\(forwardedFor)" : "for=\"[\(forwardedFor)]\"")
        }
        if let trace { headers.add(name: "traceparent", value: trace.traceparent) }
        if !baggage.isEmpty {
            headers.add(name: "baggage", value: baggage.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))
        }
        return headers
    }

    /// Why a request cannot open a tunnel; each answers 400.
    enum Problem: Error, Equatable, CustomStringConvertible {
        case notConnect(method: String)
        case missingAuthority
        case badAuthority(String)
        case unexpectedPseudoHeader(String)

        var description: String {
            switch self {
            case .notConnect(let method): "HBONE expects CONNECT, got \(method.isEmpty ? "no method" : method)"
            case .missingAuthority: "CONNECT without :authority"
            case .badAuthority(let value): ":authority '\(value)' is not ip:port"
            case .unexpectedPseudoHeader(let name): "CONNECT must not carry \(name)"
            }
        }
    }

    static func parse(_ headers: HPACKHeaders) -> Result<HBONERequest, Problem> {
        let method = headers.first(name: ":method") ?? ""
        guard method == "CONNECT" else { return .failure(.notConnect(method: method)) }
        // RFC 9113 §8.5: a plain CONNECT has neither :scheme nor :path.
        for name in [":scheme", ":path"] where headers.contains(name: name) {
            return .failure(.unexpectedPseudoHeader(name))
        }
        guard let text = headers.first(name: ":authority") else { return .failure(.missingAuthority) }
        guard let authority = IPEndpoint(text) else { return .failure(.badAuthority(text)) }
        var request = HBONERequest(authority: authority)
        request.trace = headers.first(name: "traceparent").flatMap(TraceContext.init(traceparent:))
        if let forwarded = headers.first(name: "forwarded") { request.forwardedFor = Self.forwardedFor(forwarded) }
        if let baggage = headers.first(name: "baggage") { request.baggage = Self.parseBaggage(baggage) }
        return .success(request)
    }

    /// The first `for=` of a Forwarded header (RFC 7239): an address, bracketed
    /// IPv6 included, optionally with a port (`for="198.18.0.1:4321"`, as
    /// ztunnel writes it).
    static func forwardedFor(_ value: String) -> IPAddress? {
        for element in value.split(separator: ";").flatMap({ $0.split(separator: ",") }) {
            let pair = element.split(separator: "=", maxSplits: 1).map { $0.trimmingWhitespace() }
            guard pair.count == 2, pair[0].lowercased() == "for" else { continue }
            var address = Substring(pair[1])
            address = address.drop(while: { $0 == "\"" })
            while address.last == "\"" { address = address.dropLast() }
            if address.hasPrefix("[") {
                address = address.dropFirst().prefix(while: { $0 != "]" })
            } else if address.filter({ $0 == ":" }).count == 1 {
                address = address.prefix(while: { $0 != ":" })
            }
            return IPAddress(address)
        }
        return nil
    }

    static func parseBaggage(_ value: String) -> [String: String] {
        var result: [String: String] = [:]
        for member in value.split(separator: ",") {
            let pair = member.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            result[pair[0].trimmingWhitespace()] = pair[1].trimmingWhitespace().removingPercentEncodingIfPossible()
        }
        return result
    }
}

extension String {
    func removingPercentEncodingIfPossible() -> String {
        guard contains("%") else { return self }
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
               let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
