import NIOCore

/// Sent as a user outbound event, makes ``AbortHandler`` close the socket without TLS's `close_notify`.
struct AbortConnection: Sendable {}

/// Sent as a user outbound event, makes ``AbortHandler`` send only the first half of the next
/// ciphertext write and then close the socket: the peer is left with a truncated TLS record.
struct TruncateNextWrite: Sendable {}

/// Sits before the TLS handler (socket side) and plays a peer that disappears mid-stream.
final class AbortHandler: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var truncateNextWrite = false

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        switch event {
        case is AbortConnection:
            context.close(promise: promise)
        case is TruncateNextWrite:
            truncateNextWrite = true
            promise?.succeed()
        default:
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = Self.unwrapOutboundIn(data)
        guard truncateNextWrite, buffer.readableBytes > 1, let half = buffer.readSlice(length: buffer.readableBytes / 2)
        else {
            context.write(data, promise: promise)
            return
        }
        truncateNextWrite = false
        context.writeAndFlush(Self.wrapOutboundOut(half), promise: nil)
        context.close(promise: nil)
        promise?.fail(ChannelError.ioOnClosedChannel)
    }
}
