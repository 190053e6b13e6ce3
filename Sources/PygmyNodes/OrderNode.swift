import Foundation
import Logging
import PygmyBookstore
import PygmyRPC
import PygmyReplica

/// An order replica: `OrderReplica` (the decisions, shared with the simulator) run by a `ReplicaShell`
/// over RPC and its SQLite order log (`OrderStore`).
public final class OrderNode: Sendable {
    public let spec: NodeSpec
    let shell: ReplicaShell<OrderReplica>
    let latency = LatencyRecorder()
    private let store: OrderStore
    private let started = ContinuousClock.now

    /// Points inside a buy where tests inject crashes.
    public typealias BuyStep = BuyCheckpoint

    init(_ environment: ReplicaEnvironment) throws {
        spec = environment.spec
        let orders = environment.topology.nodes(.order).map(\.name)
        let store = try OrderStore(directory: environment.dataDirectory, durability: environment.durability)
        let log = try store.load(
            replicaIndex: orders.firstIndex(of: spec.name) ?? 0,
            replicaCount: max(1, orders.count)
        )
        self.store = store
        let config = OrderReplica.Config(
            name: spec.name,
            peers: environment.clients.byRole,
            timing: environment.topology.timing
        )
        shell = try environment.shell(store: store) {
            OrderReplica(config: config, log: log, acceptor: $0, now: .startOfLife)
        }
    }

    /// A hook called at each step of a buy; one that throws stops this node there, as if its process had
    /// died (nothing after that step happens, nothing is cleaned up).
    public func setFaultHook(_ hook: (@Sendable (BuyStep) throws -> Void)?) async { await shell.setFaultHook(hook) }

    /// Handles a request through the core; a whole-log listing (`order.list` without `since`, for
    /// admins and checks) is read from the store, since memory holds the recent orders only.
    func handle(_ request: PeerRequest) async throws -> PeerResponse {
        if case .listOrders(let list) = request, list.since == nil, list.limit == nil {
            return .log(try store.snapshot(after: list.after))
        }
        return try await shell.request(request, connection: nil).value()
    }

    /// The node's status; heartbeats ask for it without latency summaries, the costly part.
    func status(latencies: Bool = true) async -> NodeStatus {
        let (status, count, byState) = await shell.inspect { core, now in
            (core.status, core.log.count, core.peers.byState(now: now))
        }
        var node = NodeStatus(
            name: spec.name,
            role: NodeRole.order.rawValue,
            address: spec.address,
            state: status.state,
            uptimeSeconds: (ContinuousClock.now - started).seconds,
            latencies: latencies ? latency.summaries() : [],
            peersUp: byState.up,
            peersDown: byState.down,
            orderCount: count,
            digest: status.digest
        )
        node.membership = status.membership
        node.pendingMembership = status.pending
        node.fold = status.fold
        return node
    }

    /// What the metrics mirror: peers and membership epoch.
    func metricsSample() async -> NodeMetricsSample {
        await shell.inspect { core, now in
            let peers = core.peers.byState(now: now)
            return NodeMetricsSample(peersUp: peers.up, peersDown: peers.down, epoch: core.acceptor.current.epoch)
        }
    }

    /// One page of this replica's log, read from its store (a read of durable state: no decision).
    func page(_ request: OrderPageRequest) throws -> OrderPage {
        try OrderPaging.validate(request, at: spec.name)
        return try store.page(request, replica: spec.name)
    }

    /// Every order in the log, oldest number first (read from the store).
    public func orders() throws -> [OrderRecord] { try store.snapshot(after: 0).orders }

    /// How many orders this replica holds in memory (the rest are in its store only).
    public func ordersInMemory() async -> Int { await shell.inspect { core, _ in core.log.ordersInMemory } }

    /// Whether the node's core runs on its node's event loop (for tests of the threading design).
    func runsOnItsLoop() async -> Bool { await shell.inspect { [shell] _, _ in shell.executor.eventLoop.inEventLoop } }

    /// Closes the database (`PygmyNode.stop`, `crash`); the node is dead to its peers by then.
    func closeStore() { store.close() }
}
