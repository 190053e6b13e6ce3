import Foundation
import Logging
import PygmyBookstore
import PygmyRPC
import PygmyReplica

/// A catalog replica: `CatalogReplica` (the decisions, shared with the simulator) run by a
/// `ReplicaShell` over RPC and its SQLite store (`CatalogStore`).
public final class CatalogNode: Sendable {
    public let spec: NodeSpec
    let shell: ReplicaShell<CatalogReplica>
    let latency = LatencyRecorder()
    private let store: CatalogStore
    private let started = ContinuousClock.now

    init(_ environment: ReplicaEnvironment) throws {
        spec = environment.spec
        let store = try CatalogStore(directory: environment.dataDirectory, durability: environment.durability)
        var loaded = try store.load()
        if loaded.seeds.isEmpty {
            let seeds = try environment.topology.seedBooks().map(CatalogMutation.addBook)
            try store.persist(seeds)
            loaded.apply(seeds)
        }
        self.store = store
        let config = CatalogReplica.Config(
            name: spec.name,
            peers: environment.clients.byRole,
            timing: environment.topology.timing
        )
        shell = try environment.shell(store: store) {
            CatalogReplica(config: config, state: loaded, acceptor: $0, now: .startOfLife)
        }
    }

    /// Handles a request through the core; `connection` is where it came from.
    func handle(_ request: PeerRequest, _ connection: RPCServerConnection? = nil) async throws -> PeerResponse {
        try await shell.request(request, connection: connection).value()
    }

    /// The node's status; heartbeats ask for it without latency summaries, the costly part.
    func status(latencies: Bool = true) async -> NodeStatus {
        let (state, phase, byState, membership, pending, lease, fold) = await shell.inspect { core, now in
            (
                core.state, core.phase, core.peers.byState(now: now), core.acceptor.current, core.acceptor.accepted,
                core.leaseUntil.map { $0 - now }, core.status.fold
            )
        }
        var status = NodeStatus(
            name: spec.name,
            role: NodeRole.catalog.rawValue,
            address: spec.address,
            state: phase.rawValue,
            uptimeSeconds: (ContinuousClock.now - started).seconds,
            latencies: latencies ? latency.summaries() : [],
            peersUp: byState.up,
            peersDown: byState.down,
            stock: state.seeds.keys.sorted().map {
                ItemStock(item: $0, onHand: state.stockOnHand($0), held: state.heldCopies($0))
            },
            digest: state.digest.value
        )
        status.membership = membership
        status.pendingMembership = pending
        if let lease, lease > .zero { status.leaseMillis = Int(lease.microseconds / 1000) }
        status.fold = fold
        return status
    }

    /// What the metrics mirror: peers, membership epoch and holds in flight.
    func metricsSample() async -> NodeMetricsSample {
        await shell.inspect { core, now in
            let peers = core.peers.byState(now: now)
            return NodeMetricsSample(
                peersUp: peers.up,
                peersDown: peers.down,
                epoch: core.acceptor.current.epoch,
                holdsInFlight: core.state.holds.count
            )
        }
    }

    /// Stock on hand and held per item, for tests and the chaos checker.
    public func inventory() async -> [ItemID: (onHand: Int, held: Int)] {
        await shell.inspect { core, _ in
            var out: [ItemID: (Int, Int)] = [:]
            for item in core.state.seeds.keys {
                out[item] = (core.state.stockOnHand(item), core.state.heldCopies(item))
            }
            return out
        }
    }

    public func currentSnapshot() async -> CatalogSnapshot { await shell.inspect { core, _ in core.state.snapshot() } }

    /// Whether the node's core runs on its node's event loop (for tests of the threading design).
    func runsOnItsLoop() async -> Bool { await shell.inspect { [shell] _, _ in shell.executor.eventLoop.inEventLoop } }

    /// Closes the database (`PygmyNode.stop`, `crash`); the node is dead to its peers by then.
    func closeStore() { store.close() }
}

extension ReplicaTime {
    /// The time a core is built with, before its shell starts the clock.
    static var startOfLife: ReplicaTime {
        ReplicaTime(monotonic: .zero, wallMicros: Int64(Date().timeIntervalSince1970 * 1_000_000))
    }
}

extension Duration {
    /// In seconds, with fractions.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
