import CLibBPF
import FerryHTTP
import Glibc
import NIOCore

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
        if marked && FerrySocketOptions.canMark { setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, socklen_t(MemoryLayout<UInt32>.size)) }
        if address.isIPv6 { setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        let socketAddress: SocketAddress
        do {
            socketAddress = try address.socketAddress()
        } catch {
            close(fd)
            throw error
        }
        let rc = socketAddress.withSockAddr { bind(fd, $0, socklen_t($1)) }
        guard rc == 0 else { defer { close(fd) }; throw failure("bind") }
        guard listen(fd, 1024) == 0 else { defer { close(fd) }; throw failure("listen") }
        return fd
    }
}
