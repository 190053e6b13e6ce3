import Logging
import NIOCore
import PygmyWire

/// Closes a server connection whose peer began a message (the hello or a frame) and did not finish it
/// within `timeout`: the defence against slowloris clients that keep a connection, and the memory of a
/// half-received frame, alive by trickling bytes.
///
/// Sits in front of the frame decoder and follows message boundaries with `FrameProgress` (it buffers
/// nothing). The clock starts when the first byte of a message arrives. While the server itself stops
/// reading (back-pressure: the connection has its maximum of calls in flight) the peer cannot finish,
/// so the clock stops too, and starts afresh when reading resumes. On expiry the handler logs which
/// message was left unfinished, sends an error frame on stream 0 (code 4 `deadlineExceeded`) if the
/// hello is complete, and closes the connection.
final class FrameDeadlineHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let timeout: TimeAmount
    private let logger: Logger
    private var progress = FrameProgress(expectHello: true)
    /// When the unfinished message began (or reading resumed); nil when no message is unfinished.
    private var startedAt: NIODeadline?
    /// The `completedMessages` count when `startedAt` was set: a change means a new message began.
    private var startedMessage: UInt64 = 0
    private var timer: Scheduled<Void>?
    /// Whether the pipeline has asked the socket for more bytes since the last read completed.
    private var readRequested = true
    /// The deadline passed while the server was not reading; the clock restarts with the next read.
    private var paused = false
    private var expired = false

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !expired else { return }
        let bytes = unwrapInboundIn(data)
        progress.advance(over: bytes.readableBytesView)
        if !progress.isInsideMessage {
            startedAt = nil
            paused = false
        } else if startedAt == nil || progress.completedMessages != startedMessage {
            startedAt = context.eventLoop.now
            startedMessage = progress.completedMessages
            paused = false
            scheduleTimer(context)
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readRequested = false
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        readRequested = true
        if paused {
            paused = false
            startedAt = context.eventLoop.now
            scheduleTimer(context)
        }
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    /// Keeps one timer at most: it is moved, not replaced, as messages come and go.
    private func scheduleTimer(_ context: ChannelHandlerContext) {
        guard timer == nil, let startedAt else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: startedAt + timeout) {
            let (handler, context) = bound.value
            handler.timer = nil
            handler.check(context)
        }
    }

    private func check(_ context: ChannelHandlerContext) {
        guard !expired, context.channel.isActive, let startedAt, progress.isInsideMessage else { return }
        guard context.eventLoop.now >= startedAt + timeout else { return scheduleTimer(context) }
        guard readRequested else {
            paused = true  // back-pressure: the server is not reading, so the peer cannot finish
            return
        }
        expired = true
        let seconds = Double(timeout.nanoseconds) / 1e9
        let what = progress.unfinished
        logger.notice(
            "closing connection: the peer did not finish \(what) within the frame timeout of \(seconds) s"
        )
        if case .hello = progress.position {
            context.close(promise: nil)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 96)
        let message = "frame timeout: \(what) not finished within \(seconds) s"
        FrameWriter.write(
            .error(streamID: 0, code: RPCError.Code.deadlineExceeded.rawValue, message: message),
            to: &buffer
        )
        // Close straight after the write, not when it completes: a peer that does not read could hold
        // the write, and with it the connection, forever.
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        context.close(promise: nil)
    }
}
