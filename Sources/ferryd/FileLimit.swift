import Foundation
import Logging

/// Raises the open-file soft limit to the hard limit. Every proxied connection
/// holds two descriptors (three with a pod listener's accept), and the usual
/// soft limit of 1024 would cap an agent at a few hundred connections, with
/// the overflow left waiting in the listen backlog. Envoy and ztunnel do the same.
func raiseOpenFileLimit(logger: Logger) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    guard limit.rlim_cur < limit.rlim_max else { return }
    let before = limit.rlim_cur
    limit.rlim_cur = limit.rlim_max
    if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
        logger.debug("open-file limit raised", metadata: ["from": "\(before)", "to": "\(limit.rlim_max)"])
    } else {
        logger.warning("cannot raise the open-file limit; connections are capped by it",
                       metadata: ["limit": "\(before)", "error": "\(String(cString: strerror(errno)))"])
    }
}
