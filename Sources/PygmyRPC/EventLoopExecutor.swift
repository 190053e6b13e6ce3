import NIOCore

/// Runs Swift concurrency jobs on a NIO event loop, so a handler task started for a request runs on the
/// connection's own thread: no hop to the cooperative pool and back for handlers that do not suspend
/// elsewhere.
final class EventLoopExecutor: TaskExecutor, @unchecked Sendable {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
