import Glibc
import NIOCore
import NIOPosix

/// Where a listener binds: an IP literal and a port. Listeners bind addresses
/// and never resolve names: NIO's `bind(host:)` goes through getaddrinfo with
/// AI_ADDRCONFIG, which on a node without IPv6 has no answer even for "::".
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(_ host: String, _ port: Int) {
        self.host = host
        self.port = port
    }

    public var isIPv6: Bool { host.contains(":") }
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The socket address, or an error naming the text when it is not an IP literal.
    public func socketAddress() throws -> SocketAddress {
        do {
            return try SocketAddress(ipAddress: host, port: port)
        } catch {
            throw ListenError(address: self, reason: "'\(host)' is not an IP address (listeners do not resolve names)")
        }
    }

    /// Every address of the node, both families: "::" accepts IPv4 too (as
    /// IPv4-mapped addresses) and binds on nodes with IPv6 disabled; only a
    /// kernel without IPv6 at all makes `ListenerBinding` fall back to 0.0.0.0.
    public static func any(port: Int) -> ListenAddress { ListenAddress("::", port) }
}

public struct ListenError: Error, CustomStringConvertible {
    public let address: ListenAddress
    public let reason: String
    /// The failed system call's errno, if one failed.
    public let errno: Int32?

    public init(address: ListenAddress, reason: String, errno: Int32? = nil) {
        self.address = address
        self.reason = reason
        self.errno = errno
    }

    public var description: String { "cannot listen on \(address): \(reason)" }
}

/// Binds listeners on nodes of either address family. An address whose family
/// the node lacks (no ::1 with IPv6 disabled, no IPv6 in the kernel) is skipped
/// and reported through `skipped`, never fatal; "::" falls back to 0.0.0.0.
/// Every other failure (the port taken, say) is thrown with the address.
public enum ListenerBinding {
    public static func bind(_ bootstrap: ServerBootstrap, at address: ListenAddress) async throws -> Channel {
        do {
            return try await bootstrap.bind(to: address.socketAddress()).get()
        } catch let error as ListenError {
            throw error
        } catch {
            let failure = ListenError(address: address, reason: "\(error)", errno: errnoCode(of: error))
            guard address.host == "::" && familyMissing(failure) else { throw failure }
            return try await bind(bootstrap, at: ListenAddress("0.0.0.0", address.port))
        }
    }

    /// Binds each address; returns the channels of those that bound.
    public static func bind(_ bootstrap: ServerBootstrap, at addresses: [ListenAddress],
                            skipped: (ListenAddress, String) -> Void) async throws -> [Channel] {
        var channels: [Channel] = []
        for address in addresses {
            do {
                channels.append(try await bind(bootstrap, at: address))
            } catch where familyMissing(error) {
                skipped(address, notice(skipping: address, error))
            } catch {
                for channel in channels { try? await channel.close() }
                throw error
            }
        }
        return channels
    }

    /// The error says this node has no such address family or address:
    /// EAFNOSUPPORT, EADDRNOTAVAIL or EPROTONOSUPPORT.
    public static func familyMissing(_ error: Error) -> Bool {
        errnoCode(of: error).map { [EAFNOSUPPORT, EADDRNOTAVAIL, EPROTONOSUPPORT].contains($0) } ?? false
    }

    /// The one line that says an address was skipped, and why.
    public static func notice(skipping address: ListenAddress, _ error: Error) -> String {
        let why = errnoCode(of: error).map { String(cString: strerror($0)) } ?? "\(error)"
        return "no \(address.isIPv6 ? "IPv6" : "IPv4") listener on \(address): the node has no such address (\(why))"
    }

    static func errnoCode(of error: Error) -> Int32? {
        switch error {
        case let error as IOError: return error.errnoCode
        case let error as ListenError: return error.errno
        case let error as Errno: return error.code
        default: return nil
        }
    }
}

/// An errno from a system call made by hand (a socket made before NIO takes it).
public struct Errno: Error, CustomStringConvertible {
    public let code: Int32
    public let call: String

    public init(_ call: String, code: Int32 = errno) {
        self.call = call
        self.code = code
    }

    public var description: String { "\(call): \(String(cString: strerror(code)))" }
}
