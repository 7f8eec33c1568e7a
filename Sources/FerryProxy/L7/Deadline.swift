import Synchronization

/// Runs `body`, giving up after `timeout` (nil: no limit). Returns nil on
/// timeout — at once: the body is cancelled but not waited for (an upstream
/// exchange that ignores cancellation must not hold the answer back).
func withDeadline<T: Sendable>(_ timeout: Duration?, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    guard let timeout else { return try await body() }
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T?, Error>) in
        let race = DeadlineRace(continuation)
        race.start(
            Task { do { race.settle(.success(try await body())) } catch { race.settle(.failure(error)) } },
            Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { race.settle(.success(nil)) }
            }
        )
    }
}

/// The first outcome resumes the continuation; the other side is cancelled.
private final class DeadlineRace<T: Sendable>: Sendable {
    private let state: Mutex<(continuation: CheckedContinuation<T?, Error>?, tasks: [Task<Void, Never>])>

    init(_ continuation: CheckedContinuation<T?, Error>) {
        state = Mutex((continuation, []))
    }

    func start(_ work: Task<Void, Never>, _ timer: Task<Void, Never>) {
        let finished = state.withLock { state -> Bool in
            state.tasks = [work, timer]
            return state.continuation == nil
        }
        if finished { work.cancel(); timer.cancel() }
    }

    func settle(_ result: Result<T?, Error>) {
        let (continuation, tasks) = state.withLock { state in
            defer { state.continuation = nil }
            return (state.continuation, state.tasks)
        }
        guard let continuation else { return }
        for task in tasks { task.cancel() }
        continuation.resume(with: result)
    }
}
