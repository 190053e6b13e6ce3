import Logging
import NIOCore
import PygmyWire

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A call on its way to the client connection handler.
struct ClientCall: Sendable {
    var streamID: UInt32
    var method: String
    var timeoutMicros: UInt64
    var payload: [UInt8]
    var promise: EventLoopPromise<ByteBuffer>
}

/// What `RPCClient` asks of a connection.
enum ClientCommand: Sendable {
    case call(ClientCall)
    case cancel(streamID: UInt32)
}

/// Runs the client side of one connection: sends the hello, matches responses to calls by stream id in
/// any order, enforces client-side deadlines, queues calls beyond `maxConcurrentCalls`, answers pings and
/// sends its own keepalive pings, and delivers pushes.
final class ClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = WireMessage
    typealias OutboundIn = ClientCommand
    typealias OutboundOut = ByteBuffer

    struct Settings {
        var role: PeerRole
        var maxConcurrentCalls: Int
        var maxQueuedCalls: Int
        var keepaliveInterval: Duration?
        var keepaliveTimeout: Duration
        var handshakeTimeout: Duration
        /// This side's cluster id, announced after the hello and checked against the server's (when both
        /// have one); nil: accept a server of any cluster.
        var clusterId: UUID? = nil
        /// No security layer: a server that stays silent is then not a Pygmy server (with TLS it may be a
        /// stalled TLS handshake).
        var plaintext = false
    }

    private struct Pending {
        var promise: EventLoopPromise<ByteBuffer>
        var deadline: Scheduled<Void>?
    }

    private let settings: Settings
    private let ready: EventLoopPromise<Void>
    private let onPush: @Sendable (String, ByteBuffer) -> Void
    private let onGoAway: @Sendable () -> Void
    private let logger: Logger

    private var context: ChannelHandlerContext?
    private var handshakeDone = false
    /// The server's hello announced its cluster id: the handshake ends with its `clusterId` frame.
    private var awaitingClusterId = false
    private var pending: [UInt32: Pending] = [:]
    private var queued = CircularBuffer<ClientCall>()
    private var closeReason: (any Error)?
    private var draining = false
    private var keepaliveTimer: RepeatedTask?
    private var receivedSinceLastTick = false
    private var pingSentAt: NIODeadline?
    private var handshakeTimer: Scheduled<Void>?
    /// Frames are written as they are ready and flushed together once per event-loop tick.
    private let flusher = FlushCoalescer()

    init(
        settings: Settings,
        ready: EventLoopPromise<Void>,
        logger: Logger,
        onPush: @escaping @Sendable (String, ByteBuffer) -> Void,
        onGoAway: @escaping @Sendable () -> Void
    ) {
        self.settings = settings
        self.ready = ready
        self.logger = logger
        self.onPush = onPush
        self.onGoAway = onGoAway
    }

    /// Drops the context, which holds this handler: without this every connection would stay in memory.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        flusher.detach()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        flusher.attach(context)
        if context.channel.isActive { sendHello(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendHello(context)
        context.fireChannelActive()
    }

    private func sendHello(_ context: ChannelHandlerContext) {
        guard handshakeTimer == nil, !handshakeDone else { return }
        var buffer = context.channel.allocator.buffer(capacity: Hello.length + 26)
        Hello(role: settings.role, flags: settings.clusterId == nil ? 0 : Hello.clusterIdFollows).write(to: &buffer)
        if let clusterId = settings.clusterId { FrameWriter.write(.clusterId(clusterId), to: &buffer) }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let kind: TransportError.Kind = settings.plaintext ? .notPygmyServer : .handshakeFailed
        handshakeTimer = context.eventLoop.scheduleTask(in: settings.handshakeTimeout.timeAmount) {
            bound.value.fail(TransportError(kind, "no hello from the server within the handshake timeout"))
        }
    }

    /// The handshake is over: keepalive starts and calls may be sent.
    private func handshakeFinished(_ context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        handshakeDone = true
        startKeepalive(context)
        ready.succeed()
    }

    /// The server's `clusterId` frame: the end of its handshake. A server of another cluster is refused.
    private func receivedClusterId(_ id: UUID, _ context: ChannelHandlerContext) {
        guard awaitingClusterId else {
            return fail(TransportError(.protocolViolation, "the server sent a clusterId frame outside its handshake"))
        }
        awaitingClusterId = false
        if let own = settings.clusterId, own != id {
            let address = context.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "the server"
            return fail(
                TransportError(
                    .wrongCluster,
                    "the node at \(address) belongs to cluster \(id.uuidString.lowercased()), "
                        + "you asked for cluster \(own.uuidString.lowercased())"
                )
            )
        }
        handshakeFinished(context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receivedSinceLastTick = true
        switch unwrapInboundIn(data) {
        case .hello(let hello):
            guard hello.version == Hello.currentVersion else {
                handshakeTimer?.cancel()
                return fail(
                    TransportError(.handshakeFailed, "the server refused protocol version \(Hello.currentVersion)")
                )
            }
            if hello.announcesClusterId {
                awaitingClusterId = true
            } else {
                handshakeFinished(context)
            }
        case .frame(.clusterId(let id)):
            receivedClusterId(id, context)
        case .frame(let frame) where awaitingClusterId:
            if case .error(0, RPCError.Code.failedPrecondition.rawValue, let message) = frame {
                return fail(TransportError(.wrongCluster, message))
            }
            fail(TransportError(.protocolViolation, "the server sent a \(frame.kindName) frame before its clusterId"))
        case .frame(let frame):
            receivedFrame(frame, context)
        }
    }

    private func receivedFrame(_ frame: Frame, _ context: ChannelHandlerContext) {
        switch frame {
        case .response(let streamID, let payload):
            guard let call = pending.removeValue(forKey: streamID) else { return }  // late answer to a cancelled call
            call.deadline?.cancel()
            call.promise.succeed(payload)
            callFinished(context)
        case .error(0, let code, let message):
            // A connection-level error: the server is about to close.
            closeReason = TransportError(
                .protocolViolation,
                "server closed the connection: \(RPCError(.init(rawValue: code), message))"
            )
        case .error(let streamID, let code, let message):
            guard let call = pending.removeValue(forKey: streamID) else { return }
            call.deadline?.cancel()
            call.promise.fail(RPCError(RPCError.Code(rawValue: code), message))
            callFinished(context)
        case .push(let topic, let payload):
            onPush(topic, payload)
        case .ping(let value):
            var buffer = context.channel.allocator.buffer(capacity: 18)
            FrameWriter.write(.pong(value), to: &buffer)
            flusher.write(wrapOutboundOut(buffer))
        case .pong:
            pingSentAt = nil
        case .goAway(let reason):
            logger.debug("server sent goAway", metadata: ["reason": "\(reason)"])
            draining = true
            onGoAway()
            if pending.isEmpty && queued.isEmpty {
                flusher.flushNow()
                context.close(promise: nil)
            }
        case .unknown:
            break  // ignored by the versioning rules
        case .clusterId:
            break  // handled in channelRead
        case .request, .cancel:
            fail(
                TransportError(
                    .protocolViolation,
                    "the server sent a \(frame.kindName) frame, which only clients send"
                )
            )
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .call(let call):
            if let closeReason {
                call.promise.fail(closeReason)
            } else if draining {
                // After goAway no request may be sent on this connection; the call did not run.
                call.promise.fail(
                    RPCError(.unavailable, "the server is shutting down (it sent goAway); the call was not sent")
                )
            } else if pending.count < settings.maxConcurrentCalls {
                send(call, context)
            } else if queued.count < settings.maxQueuedCalls {
                queued.append(call)
            } else {
                call.promise.fail(
                    RPCError(
                        .resourceExhausted,
                        "more than \(settings.maxQueuedCalls) calls are waiting for this connection"
                    )
                )
            }
            promise?.succeed()
        case .cancel(let streamID):
            cancel(streamID, context, RPCError(.cancelled, "the caller cancelled the call"))
            promise?.succeed()
        }
    }

    private func send(_ call: ClientCall, _ context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: call.payload.count + 24 + call.method.utf8.count)
        let start = FrameWriter.beginRequest(
            streamID: call.streamID,
            method: call.method,
            timeoutMicros: call.timeoutMicros,
            to: &buffer
        )
        buffer.writeBytes(call.payload)
        FrameWriter.finish(lengthIndex: start, in: &buffer)
        var entry = Pending(promise: call.promise, deadline: nil)
        if call.timeoutMicros > 0 {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let streamID = call.streamID
            entry.deadline = context.eventLoop.scheduleTask(in: .microseconds(Int64(clamping: call.timeoutMicros))) {
                let handler = bound.value
                guard let context = handler.context else { return }
                handler.cancel(streamID, context, RPCError(.deadlineExceeded, "no answer within the call's deadline"))
            }
        }
        pending[call.streamID] = entry
        if pending.count == 1 {
            // Alone on the connection: nothing to share a flush with, so flush at once, without a task.
            flusher.writeAndFlush(wrapOutboundOut(buffer))
        } else {
            flusher.write(wrapOutboundOut(buffer))
        }
    }

    /// The flush that follows each `RPCClient` write: the frames were written and their flush is already
    /// scheduled by the coalescer, so calls made together leave in one flush.
    func flush(context: ChannelHandlerContext) {
        flusher.flushIfPending()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flusher.flushNow()
        context.fireChannelReadComplete()
    }

    /// Gives up on a call: fails its promise and tells the server with a cancel frame.
    private func cancel(_ streamID: UInt32, _ context: ChannelHandlerContext, _ error: RPCError) {
        if let index = queued.firstIndex(where: { $0.streamID == streamID }) {
            queued.remove(at: index).promise.fail(error)
            return
        }
        guard let call = pending.removeValue(forKey: streamID) else { return }
        call.deadline?.cancel()
        call.promise.fail(error)
        var buffer = context.channel.allocator.buffer(capacity: 10)
        FrameWriter.write(.cancel(streamID: streamID), to: &buffer)
        flusher.write(wrapOutboundOut(buffer))
        callFinished(context)
    }

    private func callFinished(_ context: ChannelHandlerContext) {
        while pending.count < settings.maxConcurrentCalls, let next = queued.popFirst() {
            send(next, context)
        }
        if draining && pending.isEmpty && queued.isEmpty {
            flusher.flushNow()
            context.close(promise: nil)
        }
    }

    private func startKeepalive(_ context: ChannelHandlerContext) {
        guard let interval = settings.keepaliveInterval else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        keepaliveTimer = context.eventLoop.scheduleRepeatedTask(
            initialDelay: interval.timeAmount,
            delay: interval.timeAmount
        ) { _ in bound.value.keepaliveTick() }
    }

    /// Sends a ping when the connection was quiet for an interval; closes it when a ping went unanswered
    /// for `keepaliveTimeout`.
    private func keepaliveTick() {
        guard let context else { return }
        if let sent = pingSentAt {
            if NIODeadline.now() - sent >= settings.keepaliveTimeout.timeAmount {
                fail(
                    TransportError(
                        .keepaliveTimeout,
                        "the server did not answer a keepalive ping in \(settings.keepaliveTimeout)"
                    )
                )
            }
            return
        }
        if receivedSinceLastTick {
            receivedSinceLastTick = false
            return
        }
        pingSentAt = .now()
        var buffer = context.channel.allocator.buffer(capacity: 18)
        FrameWriter.write(.ping(UInt64(truncatingIfNeeded: pingSentAt!.uptimeNanoseconds)), to: &buffer)
        flusher.write(wrapOutboundOut(buffer))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let wire = error as? WireError {
            fail(TransportError(wire.code == .badMagic ? .notPygmyServer : .protocolViolation, wire.description))
        } else {
            fail(error)
        }
    }

    /// Records why the connection ends and closes it; `channelInactive` fails what is left.
    private func fail(_ error: any Error) {
        if closeReason == nil { closeReason = error }
        flusher.flushNow()
        context?.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        keepaliveTimer?.cancel()
        let reason = closeReason ?? TransportError(.connectionClosed, "the connection closed")
        let error: any Error =
            if let transport = reason as? TransportError { transport } else {
                TransportError(.connectionClosed, "the connection closed: \(reason)")
            }
        ready.fail(error)
        closeReason = error
        for (_, call) in pending {
            call.deadline?.cancel()
            call.promise.fail(error)
        }
        pending.removeAll()
        while let call = queued.popFirst() { call.promise.fail(error) }
        context.fireChannelInactive()
    }
}
