import NIOCore

/// Flush coalescing for a connection handler: frames are written as they are ready, and a flush
/// follows in the same event-loop tick, at the end of the current read burst (`flushNow` from
/// `channelReadComplete`) or else in a task queued behind the work already queued on the loop. Frames
/// written together so share one flush (one `write` system call), and none waits for a later event.
///
/// Used on the channel's event loop only. The owner attaches the context in `handlerAdded` and
/// detaches it in `handlerRemoved` (the context holds the handler, which holds this).
final class FlushCoalescer {
    private var context: ChannelHandlerContext?
    /// Frames written since the last flush.
    private var unflushed = false
    private var scheduled = false

    func attach(_ context: ChannelHandlerContext) { self.context = context }
    func detach() { context = nil }

    /// Writes `frame`; a flush follows in this tick.
    func write(_ frame: NIOAny) {
        guard let context else { return }
        context.write(frame, promise: nil)
        unflushed = true
        schedule()
    }

    /// Writes `frame` and flushes at once, with whatever is unflushed: for a frame that has nothing to
    /// share a flush with (the only call in flight), which then needs no task.
    func writeAndFlush(_ frame: NIOAny) {
        guard let context else { return }
        unflushed = false
        context.writeAndFlush(frame, promise: nil)
    }

    /// Asks for a flush in this tick of frames written past this coalescer (pushes written on the
    /// channel, say).
    func requestFlush() {
        unflushed = true
        schedule()
    }

    /// Makes sure the frames written here are flushed in this tick (they already are, if any).
    func flushIfPending() {
        if unflushed { schedule() }
    }

    /// Flushes what was written, now.
    func flushNow() {
        guard unflushed, let context else { return }
        unflushed = false
        context.flush()
    }

    private func schedule() {
        guard !scheduled, let context else { return }
        scheduled = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            bound.value.scheduled = false
            bound.value.flushNow()
        }
    }
}
