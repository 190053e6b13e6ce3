import NIOCore

/// A node's event loop as the executor of everything on its request path: the node actor runs on it
/// (`SerialExecutor`), and so do the tasks a buy starts (`TaskExecutor`, as their preference). With the
/// node's server connections and peer clients on the same loop, a request is decoded, handled, sent
/// on to peers and answered on one thread: no hand-off to the global pool and back for each step, each
/// of which costs a wake-up (a futex and a context switch) when the pool is idle.
///
/// Blocking work on the loop (SQLite commits, done inside the actor) delays the node's other I/O for
/// that long; the actor serialised it before as well.
final class NodeExecutor: SerialExecutor, TaskExecutor, @unchecked Sendable {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(isolatedTo: self.asUnownedSerialExecutor(), taskExecutor: self.asUnownedTaskExecutor())
        }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }

    func checkIsolated() {
        precondition(eventLoop.inEventLoop, "expected to run on the node's event loop")
    }
}
