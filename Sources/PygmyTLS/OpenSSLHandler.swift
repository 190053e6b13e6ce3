import Logging
import NIOCore
import PygmyRPC

/// A channel handler that runs TLS (OpenSSL, over memory BIOs) between the socket and the handlers
/// after it: ciphertext in and out on the socket side, plaintext `ByteBuffer`s on the application side.
///
/// - The handshake starts as soon as the channel is active. Writes issued before it completes are
///   buffered and sent, in order, right after it.
/// - When it completes the handler fires ``TLSHandshakeCompleted`` and, if the peer presented a
///   verified certificate, `RPCPeerAuthenticated` with the subject and the `pygmy://role/...` roles.
/// - Every failure (handshake, verification, timeout, bad record) is fired as a ``TLSError`` with
///   `fireErrorCaught`, and the connection is closed after any alert OpenSSL queued has been sent.
/// - `close` sends `close_notify` before closing; a `close_notify` from the peer is answered and the
///   connection closed. A peer closing TCP without `close_notify` is reported as `uncleanShutdown`.
///
/// All state lives on the channel's event loop; the handler is not `Sendable` and needs no locks.
public final class OpenSSLHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// Where the connection is in its life.
    enum State {
        /// Waiting for the channel to become active.
        case idle
        case handshaking
        /// Handshake done: application data flows.
        case active
        /// Our `close_notify` is queued; the channel closes once it has been written. Reads still work.
        case closingGracefully
        /// Failed or closed before the handshake finished: input is ignored, the channel is closing.
        case closing
        /// The channel is inactive or the handler was removed.
        case closed
    }

    /// A close waiting for our last TLS bytes (`close_notify` or an alert) to be written.
    struct PendingClose {
        var mode: CloseMode
        var promise: EventLoopPromise<Void>?
    }

    // All state below is only touched on the channel's event loop.
    let tlsContext: TLSContext
    let role: TLSRole
    let logger: Logger
    var state: State = .idle
    var connection: TLSConnection?
    /// Plaintext not yet handed to OpenSSL: everything written before the handshake completed.
    var pendingWrites = CircularBuffer<(buffer: ByteBuffer, promise: EventLoopPromise<Void>?)>()
    var handshakeTimer: Scheduled<Void>?
    var closeTimer: Scheduled<Void>?
    var pendingClose: PendingClose?
    /// Whether the socket reported an I/O error (then a missing `close_notify` is no news).
    var sawTransportError = false

    /// What the handshake negotiated, once it has completed (read on the event loop only).
    public internal(set) var handshakeDetails: TLSHandshakeCompleted?

    /// - Parameters:
    ///   - context: the loaded configuration, shared by all connections.
    ///   - role: server, or client with the name (host or IP) the server certificate must match.
    ///   - logger: receives handshake results and failures at `debug` level.
    public init(context: TLSContext, role: TLSRole, logger: Logger = OpenSSLHandler.silentLogger) {
        self.tlsContext = context
        self.role = role
        self.logger = logger
    }

    /// A logger that discards everything (the default).
    public static let silentLogger = Logger(label: "pygmy.tls", factory: { _ in SwiftLogNoOpLogHandler() })

    // MARK: Life cycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startHandshake(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        let wasClosed = state == .closed
        state = .closed
        cancelTimers()
        failPendingWrites(ChannelError.ioOnClosedChannel)
        if let pending = pendingClose, !wasClosed {
            pendingClose = nil
            context.close(mode: pending.mode, promise: pending.promise)
        }
        connection = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        startHandshake(context: context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        let previous = state
        state = .closed
        cancelTimers()
        failPendingWrites(ChannelError.ioOnClosedChannel)
        if let pending = pendingClose {
            pendingClose = nil
            pending.promise?.succeed()
        }
        switch previous {
        case .handshaking:
            report(
                TLSError(
                    kind: .closedDuringHandshake,
                    message: "TLS handshake failed: the peer closed the connection during the handshake"
                ),
                context: context
            )
        case .active where !sawTransportError:
            report(
                TLSError(kind: .uncleanShutdown, message: "TLS connection closed by the peer without close_notify"),
                context: context
            )
        case .idle, .active, .closingGracefully, .closing, .closed:
            break
        }
        connection = nil
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is IOError { sawTransportError = true }
        context.fireErrorCaught(error)
    }

    // MARK: Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if state == .idle { startHandshake(context: context) }
        guard let connection, state == .handshaking || state == .active || state == .closingGracefully else { return }
        if let error = connection.feed(Self.unwrapInboundIn(data)) {
            fail(error, context: context)
            return
        }
        if state == .handshaking { advanceHandshake(context: context, connection: connection) }
        if state == .active || state == .closingGracefully { readPlaintext(context: context, connection: connection) }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        switch state {
        case .handshaking:
            context.read()  // Keep the handshake going even when auto-read is off.
        case .idle, .active, .closingGracefully:
            context.fireChannelReadComplete()
        case .closing, .closed:
            break
        }
    }

    /// Decrypts everything OpenSSL can and passes it on, in chunks of up to 64 KiB.
    private func readPlaintext(context: ChannelHandlerContext, connection: TLSConnection) {
        var buffer = context.channel.allocator.buffer(capacity: 16_384)
        func deliver() {
            guard buffer.readableBytes > 0 else { return }
            let chunk = buffer
            buffer = context.channel.allocator.buffer(capacity: 16_384)
            context.fireChannelRead(Self.wrapInboundOut(chunk))
        }
        while state == .active || state == .closingGracefully {
            switch connection.read(into: &buffer) {
            case .readSome:
                if buffer.readableBytes >= 65_536 { deliver() }
            case .wantRead:
                deliver()
                if state == .active && !pendingWrites.isEmpty {
                    // Writes that OpenSSL could not take before (it wanted to read first).
                    writeOutput(context: context, flush: false)
                    encryptPendingWrites(context: context, connection: connection)
                    context.flush()
                } else {
                    writeOutput(context: context, flush: true)
                }
                return
            case .closeNotify:
                deliver()
                peerSentCloseNotify(context: context, connection: connection)
                return
            case .failed(let error):
                deliver()
                fail(error, context: context)
                return
            }
        }
    }

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = Self.unwrapOutboundIn(data)
        switch state {
        case .idle, .handshaking:
            pendingWrites.append((buffer, promise))
        case .active:
            pendingWrites.append((buffer, promise))
            if let connection { encryptPendingWrites(context: context, connection: connection) }
        case .closingGracefully, .closing, .closed:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        switch state {
        case .idle, .handshaking:
            break  // Everything buffered is flushed when the handshake completes.
        case .active, .closingGracefully, .closing, .closed:
            context.flush()
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .input {
            context.close(mode: mode, promise: promise)
            return
        }
        switch state {
        case .idle, .handshaking:
            state = .closing
            cancelTimers()
            failPendingWrites(ChannelError.ioOnClosedChannel)
            context.close(mode: mode, promise: promise)
        case .active:
            state = .closingGracefully
            failPendingWrites(ChannelError.ioOnClosedChannel)
            connection?.shutdown()
            closeAfterWritingOutput(context: context, mode: mode, promise: promise)
        case .closingGracefully, .closing:
            if pendingClose != nil {
                // Already closing once our last TLS bytes are out.
                if let promise { context.channel.closeFuture.cascade(to: promise) }
            } else {
                context.close(mode: mode, promise: promise)
            }
        case .closed:
            context.close(mode: mode, promise: promise)
        }
    }

    /// Encrypts buffered plaintext, in order, writing one ciphertext buffer per plaintext write.
    func encryptPendingWrites(context: ChannelHandlerContext, connection: TLSConnection) {
        while state == .active, let (buffer, promise) = pendingWrites.first {
            if buffer.readableBytes == 0 {
                pendingWrites.removeFirst()
                context.write(Self.wrapOutboundOut(buffer), promise: promise)
                continue
            }
            switch connection.write(buffer) {
            case .written:
                pendingWrites.removeFirst()
                let ciphertext = connection.drainOutput(allocator: context.channel.allocator)
                context.write(
                    Self.wrapOutboundOut(ciphertext ?? context.channel.allocator.buffer(capacity: 0)),
                    promise: promise
                )
            case .wantMore:
                return  // Retried after the next read.
            case .failed(let error):
                fail(error, context: context)
                return
            }
        }
    }

    /// Sends whatever ciphertext OpenSSL produced on its own (handshake messages, alerts, `close_notify`).
    func writeOutput(context: ChannelHandlerContext, flush: Bool) {
        guard let output = connection?.drainOutput(allocator: context.channel.allocator) else { return }
        context.write(Self.wrapOutboundOut(output), promise: nil)
        if flush { context.flush() }
    }

    func failPendingWrites(_ error: any Error) {
        while let (_, promise) = pendingWrites.popFirst() {
            promise?.fail(error)
        }
    }
}
