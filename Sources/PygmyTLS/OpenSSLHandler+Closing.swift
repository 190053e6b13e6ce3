import Logging
import NIOCore

extension OpenSSLHandler {
    /// Reports a fatal TLS error and closes the connection after sending any alert OpenSSL queued.
    func fail(_ error: TLSError, context: ChannelHandlerContext) {
        switch state {
        case .idle, .handshaking, .active, .closingGracefully:
            break
        case .closing, .closed:
            return  // Already reported or closing for another reason.
        }
        state = .closing
        handshakeTimer?.cancel()
        handshakeTimer = nil
        failPendingWrites(error)
        let gracefulClose = pendingClose
        // Handlers often close the channel when they see an error; while reporting, such a close must
        // wait for the alert below rather than cut it off (see `close`).
        pendingClose = PendingClose(mode: .all, promise: nil)
        report(error, context: context)
        pendingClose = nil
        if let gracefulClose {
            // A graceful close was already waiting for `close_notify`; don't wait any longer.
            closeTimer?.cancel()
            closeTimer = nil
            context.close(mode: gracefulClose.mode, promise: gracefulClose.promise)
            if gracefulClose.mode != .all { context.close(promise: nil) }
        } else {
            closeAfterWritingOutput(context: context, mode: .all, promise: nil)
        }
    }

    /// Fires `error` through the pipeline.
    func report(_ error: TLSError, context: ChannelHandlerContext) {
        logger.debug(
            "TLS failure",
            metadata: [
                "tls.error": "\(error.message)",
                "tls.kind": "\(error.kind.rawValue)",
                "remote": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")",
            ]
        )
        context.fireErrorCaught(error)
    }

    /// The peer sent `close_notify`: answer with ours (unless already sent) and close.
    func peerSentCloseNotify(context: ChannelHandlerContext, connection: TLSConnection) {
        switch state {
        case .active:
            state = .closingGracefully
            failPendingWrites(ChannelError.ioOnClosedChannel)
            connection.shutdown()
            closeAfterWritingOutput(context: context, mode: .all, promise: nil)
        case .closingGracefully:
            if pendingClose == nil { context.close(promise: nil) }  // We had only closed our output.
        case .idle, .handshaking, .closing, .closed:
            break
        }
    }

    /// Writes and flushes OpenSSL's pending output (`close_notify` or an alert), then closes the channel
    /// once that write completes or `shutdownTimeout` passes, whichever is first.
    func closeAfterWritingOutput(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard let output = connection?.drainOutput(allocator: context.channel.allocator) else {
            context.close(mode: mode, promise: promise)
            return
        }
        pendingClose = PendingClose(mode: mode, promise: promise)
        closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: tlsContext.configuration.shutdownTimeout) {
            self.closeTimer = nil
            self.issuePendingClose(context: context)
        }
        context.writeAndFlush(Self.wrapOutboundOut(output)).assumeIsolated().whenComplete { _ in
            self.issuePendingClose(context: context)
        }
    }

    /// Performs the close that was waiting for the last TLS bytes, if it is still waiting.
    private func issuePendingClose(context: ChannelHandlerContext) {
        guard let pending = pendingClose else { return }
        pendingClose = nil
        closeTimer?.cancel()
        closeTimer = nil
        context.close(mode: pending.mode, promise: pending.promise)
    }

    func cancelTimers() {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        closeTimer?.cancel()
        closeTimer = nil
    }
}
