import NIOCore

/// Runs a request's Swift task on the event loop of its client connection.
/// Without it every await in the L7 path hops between NIO's threads and the
/// global concurrent pool: a futex wake-up and a context switch each, which
/// profiling showed as the largest single cost per request. With it, a task
/// whose upstream channel is on the same loop never leaves that thread.
final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

extension EventLoop {
    /// `body` on this loop: at once when already on it, else submitted.
    /// Saves a trip through the task queue for the common same-loop case.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable () -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        inEventLoop ? body() : flatSubmit(body)
    }
}
