import Logging
import NIOCore
import NIOPosix
import PygmyWire
import ServiceLifecycle
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A Pygmy RPC server: accepts connections on one TCP port and serves the methods of a `RPCRouter`.
///
/// Use `start()`/`shutdown()` directly (tests bind port 0 and read `localAddress`), or run it as a
/// swift-service-lifecycle `Service`: `run()` serves until graceful shutdown is triggered (SIGTERM via
/// `ServiceGroup`), then stops accepting, sends goAway to every client, lets in-flight calls finish for up
/// to `shutdownGracePeriod`, and closes.
public final class RPCServer: Service, Sendable {
    /// Server settings. Defaults suit a local cluster; every limit exists to keep one bad client from
    /// hurting the others.
    public struct Configuration: Sendable {
        public var host: String = "127.0.0.1"
        /// 0 picks a free port; read it back from `localAddress`.
        public var port: Int = 0
        /// The role this server announces in its hello.
        public var role: PeerRole = .unspecified
        /// The largest frame accepted, checked when the length prefix arrives.
        public var maxFrameLength: Int = Frame.defaultMaxLength
        /// Calls one connection may have in flight; beyond that the server stops reading from it.
        public var maxConcurrentCallsPerConnection: Int = 256
        /// Open connections accepted at once; further ones are closed on accept.
        public var maxConnections: Int = 1024
        /// Time a new connection has to complete the hello (and TLS, if any).
        public var handshakeTimeout: Duration = .seconds(10)
        /// Time a peer has to finish a message (the hello or a frame) once its first byte has arrived;
        /// nil: no limit. The defence against clients that trickle a frame in byte by byte (slowloris).
        public var frameTimeout: Duration? = .seconds(5)
        /// A connection with no traffic and no calls in flight for this long is closed. nil: never.
        public var idleTimeout: Duration? = .seconds(300)
        /// How long `shutdown()` waits for in-flight calls before closing connections anyway.
        public var shutdownGracePeriod: Duration = .seconds(10)
        /// TLS or another security layer; nil for plaintext.
        public var security: (any RPCTransportSecurity)? = nil
        /// The cluster this server belongs to, announced after its hello (PROTOCOL.md §2.1). A client that
        /// announces another id is refused (error 9 on stream 0, then close); nil accepts any client.
        public var clusterId: UUID? = nil
        /// Decides whether a peer may call a method; return an error (usually `.permissionDenied`) to refuse.
        public var authorize: (@Sendable (_ method: String, _ peer: RPCPeer) -> RPCError?)? = nil
        /// Told about every call once it is answered (metrics); runs on the connection's event loop, so it
        /// must be quick.
        public var observeCall: (@Sendable (RPCCallRecord) -> Void)? = nil

        public init() {}

        /// Builds a configuration by adjusting the defaults: `.defaults { $0.port = 9000 }`.
        public static func defaults(_ adjust: (inout Configuration) -> Void) -> Configuration {
            var c = Configuration()
            adjust(&c)
            return c
        }
    }

    private struct State {
        var serverChannel: (any Channel)?
        var connections: [UInt64: any Channel] = [:]
        var nextConnectionID: UInt64 = 1
        var shuttingDown = false
    }

    public let configuration: Configuration
    private let router: RPCRouter
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())
    private let inFlightCalls = Atomic<Int>(0)

    public init(
        configuration: Configuration,
        router: RPCRouter,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "pygmy.rpc.server")
    ) {
        self.configuration = configuration
        self.router = router
        self.group = group
        self.logger = logger
    }

    /// The bound address once `start()` has returned.
    public var localAddress: SocketAddress? { state.withLock { $0.serverChannel?.localAddress } }

    /// The number of calls in flight across all connections.
    public var callsInFlight: Int { inFlightCalls.load(ordering: .relaxed) }

    /// The number of open connections.
    public var connectionCount: Int { state.withLock { $0.connections.count } }

    /// Binds the port and starts accepting. Returns the bound address.
    @discardableResult
    public func start() async throws -> SocketAddress {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.initializeConnection(channel) }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RPCListenError(host: configuration.host, port: configuration.port, cause: error)
        }
        state.withLock { $0.serverChannel = channel }
        logger.info("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        return channel.localAddress!
    }

    /// Sets up the pipeline of an accepted connection (on its event loop).
    private func initializeConnection(_ channel: any Channel) throws {
        let id: UInt64? = state.withLock { s in
            guard !s.shuttingDown, s.connections.count < configuration.maxConnections else { return nil }
            let id = s.nextConnectionID
            s.nextConnectionID += 1
            s.connections[id] = channel
            return id
        }
        guard let id else {
            logger.warning("refusing connection: limit of \(configuration.maxConnections) reached or shutting down")
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.connections.removeValue(forKey: id) }
        }
        let sync = channel.pipeline.syncOperations
        try configuration.security?.configureServerChannel(channel)
        if let idle = configuration.idleTimeout {
            try sync.addHandler(IdleStateHandler(allTimeout: idle.timeAmount))
        }
        if let frameTimeout = configuration.frameTimeout {
            var connectionLogger = logger
            connectionLogger[metadataKey: "connection"] = "\(id)"
            connectionLogger[metadataKey: "peer"] = "\(channel.remoteAddress.map { "\($0)" } ?? "unknown")"
            try sync.addHandler(FrameDeadlineHandler(timeout: frameTimeout.timeAmount, logger: connectionLogger))
        }
        try sync.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameLength: configuration.maxFrameLength)))
        try sync.addHandler(
            ServerConnectionHandler(
                router: router,
                configuration: configuration,
                connectionID: id,
                logger: logger,
                onInFlightChange: { [self] in _ = self.inFlightCalls.add($0, ordering: .relaxed) }
            )
        )
    }

    /// Stops accepting, asks every connection to drain, waits up to `shutdownGracePeriod` for in-flight
    /// calls, then closes what is left. Safe to call more than once.
    public func shutdown() async {
        await shutdown(gracePeriod: configuration.shutdownGracePeriod)
    }

    /// `shutdown()` with another grace period; `.zero` closes every connection at once.
    public func shutdown(gracePeriod: Duration) async {
        let (server, connections) = state.withLock { s -> ((any Channel)?, [any Channel]) in
            s.shuttingDown = true
            let server = s.serverChannel
            return (server, Array(s.connections.values))
        }
        try? await server?.close()
        if gracePeriod > .zero {
            for connection in connections {
                connection.pipeline.fireUserInboundEventTriggered(RPCServerDrainEvent())
            }
        }
        let deadline = ContinuousClock.now.advanced(by: gracePeriod)
        while connectionCount > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let remaining = state.withLock { Array($0.connections.values) }
        for connection in remaining {
            try? await connection.close()
        }
        if !remaining.isEmpty {
            logger.warning("closed \(remaining.count) connections that did not drain in time")
        }
    }

    /// Runs as a service: starts (unless already started), serves until graceful shutdown or task
    /// cancellation, then shuts down.
    public func run() async throws {
        if localAddress == nil { try await start() }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                let server = state.withLock { $0.serverChannel }
                try? await server?.closeFuture.get()
            } onCancel: {
                let server = self.state.withLock { $0.serverChannel }
                server?.close(promise: nil)
            }
        } onGracefulShutdown: {
            let server = self.state.withLock { $0.serverChannel }
            server?.close(promise: nil)
        }
        await shutdown()
    }
}

/// The server could not bind its address: in words, with the address and what to do, instead of the
/// socket call's text (`bind(descriptor:ptr:bytes:): Address already in use (errno: 98)`).
public struct RPCListenError: Error, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// The errno of the failed call, when there was one (`EADDRINUSE` for a port another process holds).
    public var errno: Int32?
    public var description: String

    init(host: String, port: Int, cause: any Error) {
        self.host = host
        self.port = port
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let io = cause as? IOError
        self.errno = io?.errnoCode
        switch io?.errnoCode {
        case EADDRINUSE:
            description =
                "cannot listen on \(address): address already in use; another process holds it "
                + "(find it with `ss -ltnp 'sport = :\(port)'`, stop it, or give this node another port)"
        case EADDRNOTAVAIL:
            description =
                "cannot listen on \(address): this host has no such address; check the node's host (or listenHost)"
        case EACCES:
            description = "cannot listen on \(address): permission denied (ports below 1024 need privileges)"
        case let code?:
            description = "cannot listen on \(address): \(String(cString: strerror(code)).lowercased())"
        case nil:
            description = "cannot listen on \(address): \(cause)"
        }
    }
}
