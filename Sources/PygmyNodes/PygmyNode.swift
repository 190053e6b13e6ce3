import Logging
import NIOCore
import NIOPosix
import PygmyBookstore
import PygmyRPC
import PygmyWire
import ServiceLifecycle

/// One running node of any role: its RPC server, its peer clients and its background work.
///
/// `start()` binds and starts everything and returns; `stop()` shuts down gracefully. As a
/// swift-service-lifecycle `Service`, `run()` does both around a graceful-shutdown signal.
public final class PygmyNode: Service, Sendable {
    public let spec: NodeSpec
    public let topology: Topology
    let clients: PeerClients
    let server: RPCServer
    let logger: Logger
    private let role: Role
    private let background = BackgroundTasks()
    /// The node's metrics and their HTTP endpoint; nil when its topology entry has no `metricsPort`.
    public let metrics: NodeMetrics?
    let metricsServer: MetricsServer?

    enum Role: Sendable {
        case frontend(FrontendNode)
        case catalog(CatalogNode)
        case order(OrderNode)
    }

    /// How a node secures its connections: its server's side and its clients' side (nil: plaintext). Built
    /// by the composition root (`pygmy node`, local clusters, tests) from the node's `tls` settings, so this
    /// module never links OpenSSL.
    public typealias Security = (server: (any RPCTransportSecurity)?, client: (any RPCTransportSecurity)?)

    /// Builds the node `name` of `topology`.
    ///
    /// The node's server connections, its clients to its peers and its actor all run on one event loop
    /// (`NodeExecutor`): a call is decoded, handled, passed on and answered on one thread.
    /// - Parameters:
    ///   - security: the transport security for the node's server and peer clients. Required (both sides)
    ///     when the node's topology entry asks for TLS: such a node without it throws a `TopologyError`
    ///     instead of running in plaintext. Must be `(nil, nil)` for a plaintext node.
    ///   - durability: how SQLite commits (catalog and order replicas).
    ///   - eventLoop: the node's loop; by default one of the process-wide singleton group's.
    ///   - onStorageFailure: called when a write to the node's store fails; the node has stopped serving
    ///     by then. `pygmy node` exits, so its supervisor restarts it from what is durable.
    public init(
        name: String,
        topology: Topology,
        security: Security = (nil, nil),
        durability: Durability = .process,
        eventLoop: (any EventLoop)? = nil,
        logger: Logger? = nil,
        onStorageFailure: (@Sendable (any Error) -> Void)? = nil
    ) throws {
        let loop = eventLoop ?? MultiThreadedEventLoopGroup.singleton.next()
        let executor = NodeExecutor(loop)
        let spec = try topology.node(named: name)
        var logger = logger ?? Logger(label: "pygmy.\(spec.role.rawValue)")
        logger[metadataKey: "node"] = "\(name)"
        self.spec = spec
        self.topology = topology
        self.logger = logger
        guard spec.tls == nil || (security.server != nil && security.client != nil) else {
            throw TopologyError("node \(name)'s topology asks for TLS but no transport security was given")
        }
        guard spec.tls != nil || (security.server == nil && security.client == nil) else {
            throw TopologyError("node \(name)'s topology asks for plaintext but transport security was given")
        }
        let (serverSecurity, clientSecurity) = security
        let metrics = spec.metricsPort.map { _ in NodeMetrics(role: spec.role, version: PygmyVersion.current) }
        self.metrics = metrics
        let peerSpecs: [NodeSpec]
        switch spec.role {
        case .frontend: peerSpecs = topology.nodes(.catalog) + topology.nodes(.order)
        case .catalog: peerSpecs = topology.nodes(.catalog).filter { $0.name != name } + topology.nodes(.order)
        case .order: peerSpecs = topology.nodes(.catalog) + topology.nodes(.order).filter { $0.name != name }
        }
        let wireRole: PeerRole
        switch spec.role {
        case .frontend: wireRole = .frontend
        case .catalog: wireRole = .catalog
        case .order: wireRole = .order
        }
        clients = PeerClients(
            specs: peerSpecs,
            topology: topology,
            security: clientSecurity,
            role: wireRole,
            eventLoop: loop,
            logger: logger
        )
        let replica = ReplicaEnvironment(
            spec: spec,
            topology: topology,
            clients: clients,
            durability: durability,
            executor: executor,
            logger: logger,
            onStorageFailure: onStorageFailure ?? { _ in },
            metrics: metrics
        )
        var router = RPCRouter()
        switch spec.role {
        case .frontend:
            let node = FrontendNode(
                spec: spec,
                topology: topology,
                clients: clients,
                executor: executor,
                logger: logger
            )
            role = .frontend(node)
            Self.registerFrontend(node, on: &router)
        case .catalog:
            let node = try CatalogNode(replica)
            role = .catalog(node)
            Self.registerCatalog(node, on: &router)
        case .order:
            let node = try OrderNode(replica)
            role = .order(node)
            Self.registerOrder(node, on: &router)
        }
        let configuration = RPCServer.Configuration.defaults {
            $0.host = spec.listenHost ?? spec.host
            $0.port = spec.port
            $0.role = wireRole
            $0.security = serverSecurity
            $0.authorize = AccessPolicy.authorize
            $0.clusterId = topology.clusterUUID
            $0.shutdownGracePeriod = .seconds(5)
            $0.observeCall = metrics?.observe
            topology.serverLimits(for: spec).apply(to: &$0)
        }
        let server = RPCServer(configuration: configuration, router: router, group: loop, logger: logger)
        self.server = server
        metricsServer = Self.metricsServer(spec, metrics, role, server, loop)
    }

    /// How this node's connections are secured, in words for its start-up log line.
    public static func securityMode(_ spec: NodeSpec) -> String {
        guard let tls = spec.tls else { return "off (plaintext: for one trusted host only)" }
        return "mutual TLS (certificate \(tls.certificate), CA \(tls.ca))"
    }

    /// The limits a node's server runs with that its topology sets, as `name=value` pairs.
    public static func describe(_ limits: RPCServerLimits) -> String {
        let fields: [(String, Int?)] = [
            ("handshakeTimeoutMillis", limits.handshakeTimeoutMillis),
            ("frameTimeoutMillis", limits.frameTimeoutMillis), ("idleTimeoutMillis", limits.idleTimeoutMillis),
            ("maxConnections", limits.maxConnections), ("maxFrameLength", limits.maxFrameLength),
            ("maxConcurrentCallsPerConnection", limits.maxConcurrentCallsPerConnection),
            ("shutdownGracePeriodMillis", limits.shutdownGracePeriodMillis),
        ]
        let set = fields.compactMap { name, value in value.map { "\(name)=\($0)" } }
        return set.isEmpty ? "defaults" : set.joined(separator: " ")
    }

    /// Binds the port and boots the node's core, which starts its background work (heartbeats; rejoin for
    /// catalogs; recovery for order replicas). Returns once the server accepts connections.
    public func start() async throws {
        try await server.start()
        let metricsURL = try await startMetrics()
        logger.info(
            "\(spec.role.rawValue) node listening",
            metadata: [
                "address": "\(spec.address)", "version": "\(PygmyVersion.current)", "metrics": "\(metricsURL)",
                "cluster": "\(topology.clusterId ?? "none (peers of any cluster accepted)")",
                "tls": "\(Self.securityMode(spec))",
                "limits": "\(Self.describe(topology.serverLimits(for: spec)))",
            ]
        )
        switch role {
        case .frontend(let node):
            await node.shell.boot()
            if let count = topology.periodicRestockCount, count > 0 {
                let period = Duration.seconds(topology.periodicRestockSeconds ?? 30)
                background.every(period) { await node.periodicRestock(count: count) }
            }
        case .catalog(let node): await node.shell.boot()
        case .order(let node): await node.shell.boot()
        }
    }

    /// Stops the node's core: no more inputs, timers cancelled, waiting requests answered.
    private func halt(_ why: String) async {
        switch role {
        case .frontend(let node): await node.shell.halt(why)
        case .catalog(let node): await node.shell.halt(why)
        case .order(let node): await node.shell.halt(why)
        }
    }

    /// Stops accepting, drains in-flight calls, stops background work and closes peer connections.
    public func stop() async {
        await metricsServer?.stop()
        await server.shutdown()
        background.cancelAll()
        await halt("the node is shutting down")
        await clients.closeAll()
        await closeStore()
    }

    /// Stops at once, as a crash would as far as peers can tell: no goAway, no draining, in-flight calls
    /// cut off. What the node persisted stays; what it held in memory is gone with this object.
    public func crash() async {
        await metricsServer?.stop()
        background.cancelAll()
        await halt("the node crashed")
        await server.shutdown(gracePeriod: .zero)
        await clients.closeAll()
        await closeStore()
    }

    /// Closes a replica's database (a process that dies releases its lock; one that lives on must).
    private func closeStore() async {
        switch role {
        case .frontend: break
        case .catalog(let node): node.closeStore()
        case .order(let node): node.closeStore()
        }
    }

    public func run() async throws {
        try await start()
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try? await Task.sleep(for: .milliseconds(100))
            }
        } onGracefulShutdown: {
        }
        logger.info("shutting down")
        await stop()
    }

    /// The port the server is bound to.
    public var port: Int? { server.localAddress?.port }

    public var catalog: CatalogNode? { if case .catalog(let n) = role { n } else { nil } }
    public var order: OrderNode? { if case .order(let n) = role { n } else { nil } }
    public var frontend: FrontendNode? { if case .frontend(let n) = role { n } else { nil } }
}
