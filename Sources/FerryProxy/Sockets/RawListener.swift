import CLibBPF
import FerryHTTP
import Glibc

/// A listening socket made by hand rather than by NIO, for when ferryd needs its
/// descriptor (to put it in a SOCKMAP) before handing it to NIO.
enum RawListener {
    /// socket, SO_REUSEADDR, SO_MARK, bind, listen. IPv6 sockets are v6-only.
    /// Failures carry the errno, so a family the node lacks can be told apart
    /// (`ListenerBinding.familyMissing`).
    static func make(_ address: ListenAddress, marked: Bool = true) throws -> Int32 {
        func failure(_ call: String) -> ListenError {
            ListenError(address: address, reason: "\(call): \(String(cString: strerror(errno)))", errno: errno)
        }
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        var one: Int32 = 1
        var mark = UInt32(FERRY_SOCKET_MARK)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if marked { setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, socklen_t(MemoryLayout<UInt32>.size)) }
        var rc: Int32
        if address.isIPv6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            sa.sin6_port = in_port_t(UInt16(address.port).bigEndian)
            guard inet_pton(AF_INET6, address.host, &sa.sin6_addr) == 1 else {
                close(fd)
                throw ListenError(address: address, reason: "'\(address.host)' is not an IPv6 address")
            }
            rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_port = in_port_t(UInt16(address.port).bigEndian)
            guard inet_pton(AF_INET, address.host, &sa.sin_addr) == 1 else {
                close(fd)
                throw ListenError(address: address, reason: "'\(address.host)' is not an IPv4 address")
            }
            rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard rc == 0 else { defer { close(fd) }; throw failure("bind") }
        guard listen(fd, 1024) == 0 else { defer { close(fd) }; throw failure("listen") }
        return fd
    }
}
