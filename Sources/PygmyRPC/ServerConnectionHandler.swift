import Logging
import NIOCore
import PygmyWire

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Serves one accepted connection: answers the hello, dispatches requests to handler tasks that run on
/// this connection's event loop, enforces deadlines, honours cancel frames, applies back-pressure by
/// not reading while `maxConcurrentCalls` are in flight, and drains on shutdown.
///
/// All state lives on the event loop; handler tasks report back through `NIOLoopBound`.
final class ServerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = WireMessage
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private struct WaitingCall {
        var streamID: UInt32
        var method: String
        var deadline: NIODeadline?
        var payload: ByteBuffer
    }

    private struct InFlight {
        var task: Task<Void, Never>
        var deadline: Scheduled<Void>?
        var method: String
        var started: NIODeadline
    }

    private let router: RPCRouter
    private let configuration: RPCServer.Configuration
    private let connectionID: UInt64
    private var logger: Logger
    private let onInFlightChange: @Sendable (Int) -> Void

    private var context: ChannelHandlerContext?
    private var executor: EventLoopExecutor?
    private var peerHello: Hello?
    /// The client's hello announced its cluster id: its first frame must be its `clusterId`.
    private var awaitingClusterId = false
    private var identity: RPCPeerIdentity?
    private var remoteAddress = "unknown"
    private var inFlight: [UInt32: InFlight] = [:]
    /// Requests that arrived (in the same read) beyond the concurrency limit; bounded because the handler
    /// stops reading while it is at the limit.
    private var waiting = CircularBuffer<WaitingCall>()
    private var readPending = false
    private var draining = false
    /// Set once the connection is being closed: frames that arrived in the same read are dropped.
    private var closing = false
    private var handshakeTimeout: Scheduled<Void>?
    /// Frames are written as they are ready and flushed together once per event-loop tick.
    private let flusher = FlushCoalescer()

    init(
        router: RPCRouter,
        configuration: RPCServer.Configuration,
        connectionID: UInt64,
        logger: Logger,
        onInFlightChange: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.router = router
        self.configuration = configuration
        self.connectionID = connectionID
        self.logger = logger
        self.onInFlightChange = onInFlightChange
        self.logger[metadataKey: "connection"] = "\(connectionID)"
    }

    /// Drops the context, which holds this handler: without this every connection would stay in memory.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        flusher.detach()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        flusher.attach(context)
        self.executor = EventLoopExecutor(context.eventLoop)
        if let address = context.channel.remoteAddress { remoteAddress = "\(address)" }
        logger[metadataKey: "peer"] = "\(remoteAddress)"
        if context.channel.isActive { startHandshakeTimer(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startHandshakeTimer(context)
        context.fireChannelActive()
    }

    private func startHandshakeTimer(_ context: ChannelHandlerContext) {
        guard handshakeTimeout == nil, peerHello == nil else { return }
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        handshakeTimeout = context.eventLoop.scheduleTask(in: configuration.handshakeTimeout.timeAmount) {
            [logger] in
            logger.info("closing connection: no hello within the handshake timeout")
            loopBoundContext.value.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        handshakeTimeout?.cancel()
        for (_, call) in inFlight {
            call.task.cancel()
            call.deadline?.cancel()
        }
        if !inFlight.isEmpty { onInFlightChange(-inFlight.count) }
        for call in inFlight.values { observe(call, .cancelled) }
        inFlight.removeAll()
        waiting.removeAll()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let authenticated = event as? RPCPeerAuthenticated {
            identity = authenticated.identity
            logger[metadataKey: "subject"] = "\(authenticated.identity.subject)"
        } else if event is RPCServerDrainEvent {
            beginDraining(context)
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all || idle == .read {
            if inFlight.isEmpty {
                logger.debug("closing idle connection")
                context.close(promise: nil)
            }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing, context.channel.isActive else { return }
        switch unwrapInboundIn(data) {
        case .hello(let hello):
            receivedHello(hello, context)
        case .frame(let frame):
            guard peerHello != nil else {
                return failConnection(context, WireError(.malformedFrame, "frame before hello"))
            }
            if case .clusterId(let id) = frame { return receivedClusterId(id, context) }
            guard !awaitingClusterId else {
                let reason = "a \(frame.kindName) frame before the clusterId its hello announced"
                return failConnection(context, WireError(.malformedFrame, reason))
            }
            receivedFrame(frame, context)
        }
    }

    private func receivedHello(_ hello: Hello, _ context: ChannelHandlerContext) {
        handshakeTimeout?.cancel()
        handshakeTimeout = nil
        var reply = context.channel.allocator.buffer(capacity: Hello.length)
        guard hello.version == Hello.currentVersion else {
            logger.info("refusing protocol version \(hello.version)")
            Hello(version: Hello.refusedVersion, role: configuration.role).write(to: &reply)
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in context.close(promise: nil) }
            return
        }
        peerHello = hello
        awaitingClusterId = hello.announcesClusterId
        logger[metadataKey: "role"] = "\(hello.role)"
        let own = configuration.clusterId
        Hello(role: configuration.role, flags: own == nil ? 0 : Hello.clusterIdFollows).write(to: &reply)
        if let own { FrameWriter.write(.clusterId(own), to: &reply) }
        context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
    }

    /// The client's `clusterId` frame. A client of another cluster is told so (error 9 on stream 0,
    /// naming both ids) and the connection closes: nothing it sent after the hello runs.
    private func receivedClusterId(_ id: UUID, _ context: ChannelHandlerContext) {
        guard awaitingClusterId else {
            return failConnection(context, WireError(.malformedFrame, "a clusterId frame outside the handshake"))
        }
        awaitingClusterId = false
        guard let own = configuration.clusterId, own != id else { return }
        let message =
            "this node belongs to cluster \(own.uuidString.lowercased()), "
            + "you asked for cluster \(id.uuidString.lowercased())"
        logger.notice("refusing a peer of another cluster", metadata: ["peerCluster": "\(id)"])
        closing = true
        writeError(0, RPCError(.failedPrecondition, message), context)
        flusher.flushNow()
        context.close(promise: nil)
    }

    private func receivedFrame(_ frame: Frame, _ context: ChannelHandlerContext) {
        switch frame {
        case .request(let streamID, let method, let timeoutMicros, let payload):
            guard streamID != 0 else {
                let reason = "a request on stream 0, which is reserved for connection-level frames"
                return failConnection(context, WireError(.malformedFrame, reason))
            }
            // A stream id names one call until its answer is sent: a second request on it would get a second
            // answer on the same stream, which the client cannot tell apart from the first.
            guard inFlight[streamID] == nil, !waiting.contains(where: { $0.streamID == streamID }) else {
                let reason = "a request on stream \(streamID), which is still in use by an unanswered call"
                return failConnection(context, WireError(.malformedFrame, reason))
            }
            let deadline = timeoutMicros == 0 ? nil : NIODeadline.now() + .microseconds(Int64(clamping: timeoutMicros))
            if inFlight.count >= configuration.maxConcurrentCallsPerConnection {
                waiting.append(WaitingCall(streamID: streamID, method: method, deadline: deadline, payload: payload))
            } else {
                startCall(streamID: streamID, method: method, deadline: deadline, payload: payload, context)
            }
        case .cancel(let streamID):
            // A cancel for a stream with no call (already answered, or never used) crossed the answer: ignored.
            if let index = waiting.firstIndex(where: { $0.streamID == streamID }) {
                waiting.remove(at: index)
            } else if let call = inFlight[streamID] {
                call.task.cancel()
                call.deadline?.cancel()
                finishCall(streamID, .cancelled, context)
            }
        case .ping(let value):
            var buffer = context.channel.allocator.buffer(capacity: 18)
            FrameWriter.write(.pong(value), to: &buffer)
            flusher.write(wrapOutboundOut(buffer))
        case .pong, .unknown:
            break  // pongs answer our pings (none yet); unknown kinds are ignored by the versioning rules
        case .clusterId:
            break  // handled in channelRead
        case .response, .error, .push, .goAway:
            failConnection(context, WireError(.malformedFrame, "a client may not send \(frame.kindName) frames"))
        }
    }

    private func startCall(
        streamID: UInt32,
        method: String,
        deadline: NIODeadline?,
        payload: ByteBuffer,
        _ context: ChannelHandlerContext
    ) {
        if draining {
            return refuse(streamID, method, RPCError(.unavailable, "server is shutting down"), context)
        }
        guard let handler = router.handlers[method] else {
            logger.debug("unknown method", metadata: ["method": "\(method)"])
            return refuse(streamID, method, RPCError(.unimplemented, "unknown method \"\(method)\""), context)
        }
        let peer = RPCPeer(address: remoteAddress, announcedRole: peerHello?.role ?? .unspecified, identity: identity)
        if let authorize = configuration.authorize, let denial = authorize(method, peer) {
            logger.notice(
                "permission denied",
                metadata: ["method": "\(method)", "reason": "\(denial.message)"]
            )
            return refuse(streamID, method, denial, context)
        }
        let now = NIODeadline.now()
        if let deadline, deadline <= now {
            return refuse(
                streamID,
                method,
                RPCError(.deadlineExceeded, "the call's deadline passed before it started"),
                context
            )
        }
        let rpcContext = RPCContext(
            method: method,
            deadline: deadline.map { ContinuousClock.now.advanced(by: .nanoseconds(($0 - now).nanoseconds)) },
            peer: peer,
            connection: RPCServerConnection(channel: context.channel, id: connectionID),
            logger: logger
        )
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let task = Task(executorPreference: executor) {
            let result: Result<[UInt8], any Error>
            do {
                result = .success(try await handler.run(payload, rpcContext))
            } catch {
                result = .failure(error)
            }
            if loop.inEventLoop {
                bound.value.completeCall(streamID, result)
            } else {
                loop.execute { bound.value.completeCall(streamID, result) }
            }
        }
        var call = InFlight(task: task, deadline: nil, method: method, started: now)
        if let deadline {
            call.deadline = loop.scheduleTask(deadline: deadline) {
                bound.value.expireCall(streamID)
            }
        }
        inFlight[streamID] = call
        onInFlightChange(1)
    }

    /// A handler task finished: send its response, unless the call was cancelled or expired meanwhile.
    private func completeCall(_ streamID: UInt32, _ result: Result<[UInt8], any Error>) {
        guard let context, let call = inFlight[streamID] else { return }
        call.deadline?.cancel()
        var outcome: RPCError.Code?
        switch result {
        case .success(let bytes):
            var buffer = context.channel.allocator.buffer(capacity: bytes.count + 10)
            let start = FrameWriter.beginResponse(streamID: streamID, to: &buffer)
            buffer.writeBytes(bytes)
            FrameWriter.finish(lengthIndex: start, in: &buffer)
            // The only call in flight has nothing to share a flush with: flush at once, without a task.
            if inFlight.count <= 1 {
                flusher.writeAndFlush(wrapOutboundOut(buffer))
            } else {
                flusher.write(wrapOutboundOut(buffer))
            }
        case .failure(let error as RPCError):
            outcome = error.code
            writeError(streamID, error, context)
        case .failure(is CancellationError):
            outcome = .cancelled
            writeError(streamID, RPCError(.cancelled, "the handler was cancelled"), context)
        case .failure(let error):
            outcome = .internalError
            logger.error("handler failed", metadata: ["stream": "\(streamID)", "error": "\(error)"])
            writeError(streamID, RPCError(.internalError, "\(error)"), context)
        }
        finishCall(streamID, outcome, context)
    }

    private func expireCall(_ streamID: UInt32) {
        guard let context, let call = inFlight[streamID] else { return }
        call.task.cancel()
        writeError(streamID, RPCError(.deadlineExceeded, "the call's deadline passed on the server"), context)
        finishCall(streamID, .deadlineExceeded, context)
    }

    /// A started call was answered (`outcome` nil: successfully), cancelled or expired.
    private func finishCall(_ streamID: UInt32, _ outcome: RPCError.Code?, _ context: ChannelHandlerContext) {
        guard let call = inFlight.removeValue(forKey: streamID) else { return }
        onInFlightChange(-1)
        observe(call, outcome)
        while inFlight.count < configuration.maxConcurrentCallsPerConnection, let next = waiting.popFirst() {
            startCall(
                streamID: next.streamID,
                method: next.method,
                deadline: next.deadline,
                payload: next.payload,
                context
            )
        }
        if readPending && inFlight.count < configuration.maxConcurrentCallsPerConnection {
            readPending = false
            context.read()
        }
    }

    /// Answers a call that did not start (unknown method, refused, too late, draining) with `error`.
    private func refuse(_ streamID: UInt32, _ method: String, _ error: RPCError, _ context: ChannelHandlerContext) {
        writeError(streamID, error, context)
        guard let observe = configuration.observeCall else { return }
        let name = router.handlers[method] == nil ? RPCCallRecord.unknownMethod : method
        observe(RPCCallRecord(method: name, error: error.code, duration: .zero))
    }

    private func observe(_ call: InFlight, _ outcome: RPCError.Code?) {
        guard let observe = configuration.observeCall else { return }
        let elapsed = NIODeadline.now() - call.started
        observe(RPCCallRecord(method: call.method, error: outcome, duration: .nanoseconds(elapsed.nanoseconds)))
    }

    private func writeError(_ streamID: UInt32, _ error: RPCError, _ context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 16 + error.message.utf8.count)
        FrameWriter.write(.error(streamID: streamID, code: error.code.rawValue, message: error.message), to: &buffer)
        flusher.write(wrapOutboundOut(buffer))
    }

    /// A flush from outside the handler (pushes, `RPCServerConnection.push`): coalesced the same way.
    func flush(context: ChannelHandlerContext) {
        flusher.requestFlush()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flusher.flushNow()
        context.fireChannelReadComplete()
    }

    /// Back-pressure: while the connection has its maximum of calls in flight, stop reading the socket.
    func read(context: ChannelHandlerContext) {
        if inFlight.count >= configuration.maxConcurrentCallsPerConnection {
            readPending = true
        } else {
            context.read()
        }
    }

    private func beginDraining(_ context: ChannelHandlerContext) {
        guard !draining else { return }
        draining = true
        var buffer = context.channel.allocator.buffer(capacity: 32)
        FrameWriter.write(.goAway(reason: "server shutting down"), to: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        // The connection stays open: a request that crossed the goAway gets error 14 rather than a reset,
        // and the client closes once its calls are answered (`RPCServer.shutdown` closes what is left when
        // the grace period ends).
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failConnection(context, error)
    }

    /// The byte stream can no longer be trusted: say why on stream 0 where possible, then close.
    private func failConnection(_ context: ChannelHandlerContext, _ error: any Error) {
        logger.info("closing connection", metadata: ["error": "\(error)"])
        guard !closing, context.channel.isActive else { return }
        closing = true
        if let wire = error as? WireError, peerHello != nil {
            let code: RPCError.Code = wire.code == .frameTooLarge ? .resourceExhausted : .protocolViolation
            writeError(0, RPCError(code, wire.description), context)
        }
        flusher.flushNow()
        context.close(promise: nil)
    }
}

/// Sent through every server connection's pipeline when the server begins a graceful shutdown.
struct RPCServerDrainEvent: Sendable {}

extension Duration {
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
