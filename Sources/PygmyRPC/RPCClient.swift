import Logging
import NIOCore
import NIOPosix
import PygmyWire
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A client of one Pygmy RPC server: many concurrent calls share one connection, matched by stream id.
///
/// The connection is made on first use and remade after it drops. A failed connect puts the client in
/// backoff (exponential, with jitter); calls made during backoff fail at once with
/// `TransportError.backingOff` so callers can fail over to another replica instead of waiting.
public final class RPCClient: Sendable {
    public struct Configuration: Sendable {
        /// The role announced in the hello.
        public var role: PeerRole = .client
        public var connectTimeout: Duration = .seconds(5)
        /// Time for the hello exchange (and TLS) after TCP connects.
        public var handshakeTimeout: Duration = .seconds(10)
        /// Calls in flight on the connection; more wait in a queue of `maxQueuedCalls`.
        public var maxConcurrentCalls: Int = 256
        public var maxQueuedCalls: Int = 4096
        /// How often an idle connection is probed with a ping; nil disables keepalive.
        public var keepaliveInterval: Duration? = .seconds(10)
        /// How long a ping may go unanswered before the connection is declared dead.
        public var keepaliveTimeout: Duration = .seconds(5)
        public var backoff = Backoff()
        public var maxFrameLength: Int = Frame.defaultMaxLength
        /// Applied to calls that pass no timeout of their own; nil: wait indefinitely.
        public var defaultTimeout: Duration? = nil
        /// TLS or another security layer; nil for plaintext.
        public var security: (any RPCTransportSecurity)? = nil
        /// The name checked against the server certificate; defaults to the host dialled.
        public var serverName: String? = nil
        /// The cluster this client belongs to, announced after the hello (PROTOCOL.md §2.1). A server that
        /// announces another id is refused with `TransportError.wrongCluster`; nil accepts any server.
        public var clusterId: UUID? = nil

        public init() {}

        /// Builds a configuration by adjusting the defaults.
        public static func defaults(_ adjust: (inout Configuration) -> Void) -> Configuration {
            var c = Configuration()
            adjust(&c)
            return c
        }
    }

    private enum ConnectionState {
        case idle
        case connecting(EventLoopFuture<any Channel>)
        case ready(any Channel)
        case backingOff(until: ContinuousClock.Instant, lastError: String, refused: Bool)
        case shutdown
    }

    private struct State {
        var connection: ConnectionState = .idle
        var consecutiveFailures = 0
        var random = SystemRandomNumberGenerator()
    }

    public let host: String
    public let port: Int
    public let configuration: Configuration
    /// The event loop every connection of this client runs on.
    public let eventLoop: any EventLoop
    /// Runs tasks on `eventLoop`. A caller that makes many calls can run under it
    /// (`withTaskExecutorPreference(client.executor) { ... }`): its requests are then written without a
    /// hop to the connection's thread, and it resumes on that thread when a response arrives instead of
    /// waiting for a thread of the cooperative pool, two thread wake-ups less per call.
    public let executor: any TaskExecutor
    private let logger: Logger
    private let state = Mutex(State())
    private let nextStreamID = Atomic<UInt32>(0)
    private let connections = Atomic<Int>(0)
    /// TCP is connected and the hello (and TLS) exchange is under way.
    private let connecting = Atomic<Bool>(false)
    private let pushHandlers = Mutex<[String: @Sendable (ByteBuffer) -> Void]>([:])

    /// - Parameter group: the client picks one of its loops here and makes every connection on it.
    public init(
        host: String,
        port: Int,
        configuration: Configuration = Configuration(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "pygmy.rpc.client")
    ) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.eventLoop = group.next()
        self.executor = EventLoopExecutor(eventLoop)
        var logger = logger
        logger[metadataKey: "server"] = "\(host):\(port)"
        self.logger = logger
    }

    /// Calls `method` and waits for its response.
    ///
    /// - Parameter timeout: how long to wait; sent to the server, which cancels the handler when it passes.
    /// - Throws: `RPCError` when the server (or the deadline, or cancellation) decided the call failed;
    ///   `TransportError` when the server could not be reached or the connection dropped mid-call.
    ///   Cancelling the calling task sends a cancel frame and throws `RPCError` with code `.cancelled`.
    public func call<M: RPCMethod>(
        _ method: M.Type,
        _ request: M.Request,
        timeout: Duration? = nil
    ) async throws -> M.Response {
        let payload: [UInt8]
        do {
            payload = try BinaryEncoder().encode(request)
        } catch {
            throw RPCError(.invalidArgument, "cannot encode \(M.Request.self): \(error)")
        }
        let response = try await callRaw(
            method: M.name,
            payload: payload,
            timeout: timeout ?? configuration.defaultTimeout
        )
        do {
            return try BinaryDecoder().decode(M.Response.self, from: response)
        } catch {
            throw RPCError(.internalError, "cannot decode \(M.Response.self) from \(M.name): \(error)")
        }
    }

    /// Calls `method` with a deadline instead of a timeout.
    public func call<M: RPCMethod>(
        _ method: M.Type,
        _ request: M.Request,
        deadline: ContinuousClock.Instant
    ) async throws -> M.Response {
        try await call(method, request, timeout: max(.zero, deadline - .now))
    }

    /// Sends an already-encoded request payload and returns the raw response payload.
    public func callRaw(method: String, payload: [UInt8], timeout: Duration?) async throws -> ByteBuffer {
        let start = ContinuousClock.now
        let channel = try await connectedChannel(within: timeout)
        var timeoutMicros: UInt64 = 0
        if let timeout {
            let left = timeout - (ContinuousClock.now - start)
            guard left > .zero else { throw RPCError(.deadlineExceeded, "the deadline passed while connecting") }
            timeoutMicros = UInt64(
                max(1, left.components.seconds * 1_000_000 + left.components.attoseconds / 1_000_000_000_000)
            )
        }
        let streamID = makeStreamID()
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let call = ClientCall(
            streamID: streamID,
            method: method,
            timeoutMicros: timeoutMicros,
            payload: payload,
            promise: promise
        )
        return try await withTaskCancellationHandler {
            // If the channel closed after it was handed out (the write never reaches the connection handler,
            // which would otherwise fail or time out the call), fail the call here: without this the call
            // waited forever, and a node's heartbeat round with it (found by the chaos runner under load).
            let written = channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenFailure { error in
                promise.fail(
                    TransportError(.connectionClosed, "the connection closed before the call was sent: \(error)")
                )
            }
            channel.writeAndFlush(ClientCommand.call(call), promise: written)
            return try await promise.futureResult.get()
        } onCancel: {
            channel.writeAndFlush(ClientCommand.cancel(streamID: streamID), promise: nil)
        }
    }

    private func makeStreamID() -> UInt32 {
        while true {
            let id = nextStreamID.add(1, ordering: .relaxed).newValue
            if id != 0 { return id }  // stream 0 is for connection-level frames
        }
    }

    /// Delivers every push on `topic` to `handler`, on the connection's event loop: keep it short.
    /// Messages that do not decode are logged and dropped.
    public func onPush<T: RPCPushTopic>(_ topic: T.Type, _ handler: @escaping @Sendable (T.Message) -> Void) {
        let logger = self.logger
        pushHandlers.withLock {
            $0[T.name] = { buffer in
                do {
                    handler(try BinaryDecoder().decode(T.Message.self, from: buffer))
                } catch {
                    logger.warning("dropping undecodable push", metadata: ["topic": "\(T.name)", "error": "\(error)"])
                }
            }
        }
    }

    /// Connects now rather than on the first call. Throws what a call would throw.
    public func connect() async throws {
        _ = try await connectedChannel()
    }

    /// How many connections this client has established so far. Per-connection state on the server
    /// (such as push subscriptions) must be renewed when this changes.
    public var connectionGeneration: Int { connections.load(ordering: .relaxed) }

    /// Whether a connection is currently established.
    public var isConnected: Bool {
        state.withLock { if case .ready = $0.connection { true } else { false } }
    }

    /// Closes the connection; in-flight calls fail with `TransportError.connectionClosed`, later calls
    /// with `TransportError.shutdown`.
    public func close() async {
        let previous = state.withLock { s -> ConnectionState in
            let previous = s.connection
            s.connection = .shutdown
            return previous
        }
        switch previous {
        case .ready(let channel): try? await channel.close()
        case .connecting(let future): try? await future.get().close()
        default: break
        }
    }

    // MARK: Connection management

    /// `connectedChannel()`, but failing once `timeout` has passed, so a call's timeout bounds its connect and
    /// handshake too. A connection still being made then goes on in the background for later calls.
    private func connectedChannel(within timeout: Duration?) async throws -> any Channel {
        guard let timeout else { return try await connectedChannel() }
        if case .ready(let channel) = state.withLock({ $0.connection }) { return channel }
        let once = OnceContinuation<any Channel>()
        return try await withCheckedThrowingContinuation { continuation in
            once.set(continuation)
            let timer = eventLoop.scheduleTask(in: timeout.timeAmount) { [self] in
                let handshaking = connecting.load(ordering: .relaxed)
                let message =
                    handshaking
                    ? "\(host):\(port) accepted the connection but finished no handshake within \(timeout.seconds)"
                    : "no connection to \(host):\(port) within \(timeout.seconds)"
                once.resume(with: .failure(RPCError(.deadlineExceeded, message)))
            }
            Task {
                let result: Result<any Channel, any Error>
                do { result = .success(try await self.connectedChannel()) } catch { result = .failure(error) }
                timer.cancel()
                once.resume(with: result)
            }
        }
    }

    private func connectedChannel() async throws -> any Channel {
        enum Step {
            case use(any Channel)
            case wait(EventLoopFuture<any Channel>)
            case fail(any Error)
            case connect(EventLoopPromise<any Channel>)
        }
        let step = state.withLock { s -> Step in
            switch s.connection {
            case .ready(let channel):
                return .use(channel)
            case .connecting(let future):
                return .wait(future)
            case .shutdown:
                return .fail(TransportError(.shutdown, "the client was closed"))
            case .backingOff(let until, let lastError, let refused) where ContinuousClock.now < until:
                let ms = (until - .now).components.attoseconds / 1_000_000_000_000_000
                return .fail(
                    TransportError(
                        .backingOff,
                        "\(host):\(port) unreachable (\(lastError)); next attempt in \(ms) ms",
                        refused: refused
                    )
                )
            case .idle, .backingOff:
                let promise = eventLoop.makePromise(of: (any Channel).self)
                s.connection = .connecting(promise.futureResult)
                return .connect(promise)
            }
        }
        switch step {
        case .use(let channel): return channel
        case .wait(let future): return try await future.get()
        case .fail(let error): throw error
        case .connect(let promise):
            do {
                let channel = try await makeConnection()
                let stillWanted = state.withLock { s -> Bool in
                    guard case .connecting = s.connection else { return false }
                    s.connection = .ready(channel)
                    s.consecutiveFailures = 0
                    connections.add(1, ordering: .relaxed)
                    return true
                }
                guard stillWanted else {
                    channel.close(promise: nil)
                    let error = TransportError(.shutdown, "the client was closed")
                    promise.fail(error)
                    throw error
                }
                channel.closeFuture.whenComplete { [self] _ in connectionEnded(channel) }
                promise.succeed(channel)
                return channel
            } catch {
                let transportError =
                    error as? TransportError
                    ?? TransportError(.connectFailed, "cannot connect to \(host):\(port): \(error)")
                state.withLock { s in
                    guard case .connecting = s.connection else { return }
                    s.consecutiveFailures += 1
                    let delay = configuration.backoff.delay(afterFailures: s.consecutiveFailures, using: &s.random)
                    s.connection = .backingOff(
                        until: .now.advanced(by: delay),
                        lastError: "\(transportError)",
                        refused: transportError.refused
                    )
                }
                logger.debug("connect failed", metadata: ["error": "\(transportError)"])
                promise.fail(transportError)
                throw transportError
            }
        }
    }

    /// Forgets a connection that closed (or sent goAway), so the next call dials again.
    private func connectionEnded(_ channel: any Channel) {
        state.withLock { s in
            if case .ready(let current) = s.connection, current === channel { s.connection = .idle }
        }
    }

    /// Whether a connect error is a refusal (ECONNREFUSED from every address tried).
    static func isRefusal(_ error: any Error) -> Bool {
        if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
        if let multiple = error as? NIOConnectionError {
            return !multiple.connectionErrors.isEmpty
                && multiple.connectionErrors.allSatisfy { isRefusal($0.error) }
        }
        return false
    }

    private func makeConnection() async throws -> any Channel {
        let settings = ClientConnectionHandler.Settings(
            role: configuration.role,
            maxConcurrentCalls: configuration.maxConcurrentCalls,
            maxQueuedCalls: configuration.maxQueuedCalls,
            keepaliveInterval: configuration.keepaliveInterval,
            keepaliveTimeout: configuration.keepaliveTimeout,
            handshakeTimeout: configuration.handshakeTimeout,
            clusterId: configuration.clusterId,
            plaintext: configuration.security == nil
        )
        let configuration = self.configuration
        let serverName = configuration.serverName ?? host
        let logger = self.logger
        let loop = eventLoop
        let ready = loop.makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(configuration.connectTimeout.timeAmount)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try configuration.security?.configureClientChannel(channel, serverName: serverName)
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(
                        ByteToMessageHandler(FrameDecoder(maxFrameLength: configuration.maxFrameLength))
                    )
                    try sync.addHandler(
                        ClientConnectionHandler(
                            settings: settings,
                            ready: ready,
                            logger: logger,
                            onPush: { [weak self] topic, payload in
                                if let handler = self?.pushHandlers.withLock({ $0[topic] }) { handler(payload) }
                            },
                            onGoAway: { [weak self, weak channel] in
                                if let self, let channel { self.connectionEnded(channel) }
                            }
                        )
                    )
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            ready.fail(error)
            throw TransportError(
                .connectFailed,
                "cannot connect to \(host):\(port): \(Self.describeConnectError(error, timeout: configuration.connectTimeout))",
                refused: Self.isRefusal(error)
            )
        }
        connecting.store(true, ordering: .relaxed)
        defer { connecting.store(false, ordering: .relaxed) }
        do {
            try await ready.futureResult.get()
        } catch {
            channel.close(promise: nil)
            if let transport = error as? TransportError { throw describeHandshakeFailure(transport) }
            throw TransportError(.handshakeFailed, "handshake with \(host):\(port) failed: \(error)")
        }
        return channel
    }
    /// A handshake failure in words for people: a peer that answered with something other than a Pygmy
    /// hello (or, in plaintext, with nothing) is `.notPygmyServer`, with the address named.
    private func describeHandshakeFailure(_ error: TransportError) -> TransportError {
        guard error.kind == .notPygmyServer else { return error }
        guard error.message.hasPrefix("badMagic") else {
            return TransportError(
                .notPygmyServer,
                TransportError.notPygmyServerPrefix
                    + "\(host):\(port) accepted the connection but sent no Pygmy hello within "
                    + configuration.handshakeTimeout.seconds
            )
        }
        // A TLS record (0x15 alert, 0x16 handshake) from a server we spoke plaintext to: a TLS mismatch.
        let first = error.message.split(separator: "got ").dropFirst().first?.prefix { $0.isHexDigit }
        if configuration.security == nil, first == "15" || first == "16" {
            return TransportError(.handshakeFailed, "\(host):\(port) answered with TLS: the server uses TLS")
        }
        return TransportError(
            .notPygmyServer,
            TransportError.notPygmyServerPrefix + "\(host):\(port) answered something other than a Pygmy hello"
        )
    }

    /// A connect error in words (errno's text, "timed out"), without NIO's type names.
    static func describeConnectError(_ error: any Error, timeout: Duration) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        if let multiple = error as? NIOConnectionError {
            let causes = Set(multiple.connectionErrors.map { describeConnectError($0.error, timeout: timeout) })
            if let dns = multiple.dnsAError ?? multiple.dnsAAAAError, causes.isEmpty {
                return "cannot resolve the host (\(describeConnectError(dns, timeout: timeout)))"
            }
            return causes.isEmpty ? "no address to connect to" : causes.sorted().joined(separator: "; ")
        }
        if let channel = error as? ChannelError, case .connectTimeout = channel {
            return "no answer within \(timeout.seconds) (timed out)"
        }
        if error is SocketAddressError { return "cannot resolve the host" }
        return "\(error)"
    }
}

/// A continuation resumed by whichever of several racers comes first.
private final class OnceContinuation<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)
    func set(_ value: CheckedContinuation<T, any Error>) { continuation.withLock { $0 = value } }
    func resume(with result: Result<T, any Error>) { continuation.withLock { $0.take() }?.resume(with: result) }
}

extension TransportError {
    /// How the message of a `.notPygmyServer` failure begins, for people reading it.
    public static let notPygmyServerPrefix = "not a Pygmy server: "

    /// The peer answered, but not as a Pygmy server (wrong magic, or TCP accepted and nothing said).
    public var isNotPygmyServer: Bool { kind == .notPygmyServer }
}

extension Duration {
    /// "2 s", "0.5 s": for messages.
    fileprivate var seconds: String {
        let value = Double(components.seconds) + Double(components.attoseconds) / 1e18
        return value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
