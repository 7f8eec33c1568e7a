import Logging
import Synchronization

/// Logging for Ferry's processes: human-readable lines on stderr (stdout is for
/// access logs), with one level that can change at runtime (`ferryctl logging`).
public enum FerryLogging {
    private static let current = Atomic<UInt8>(2)  // info
    private static let bootstrapped = Mutex(false)

    public static func bootstrap(level: Logger.Level) {
        setLevel(level)
        let first = bootstrapped.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            DynamicLevelHandler(base: StreamLogHandler.standardError(label: label))
        }
    }

    public static func setLevel(_ level: Logger.Level) {
        current.store(UInt8(Logger.Level.allCases.firstIndex(of: level) ?? 2), ordering: .relaxed)
    }

    public static var level: Logger.Level { Logger.Level.allCases[Int(current.load(ordering: .relaxed))] }

    struct DynamicLevelHandler: LogHandler {
        var base: StreamLogHandler

        var logLevel: Logger.Level {
            get { FerryLogging.level }
            set { FerryLogging.setLevel(newValue) }
        }

        var metadata: Logger.Metadata {
            get { base.metadata }
            set { base.metadata = newValue }
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { base[metadataKey: key] }
            set { base[metadataKey: key] = newValue }
        }

        func log(event: LogEvent) {
            base.log(event: event)
        }
    }
}
