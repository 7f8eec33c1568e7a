import Synchronization

/// A permit handed to code that runs later (an escaping closure cannot hold
/// a noncopyable value itself): released on `release()` or when the box goes,
/// whichever comes first.
public final class HeldPermit<Permit: ~Copyable & Sendable>: Sendable {
    private let held: Mutex<Permit?>

    public init(_ permit: consuming Permit) {
        held = Mutex(permit)
    }

    public func release() {
        held.withLock { $0 = nil }
    }
}
