import Logging
import PygmyBookstore
import PygmyReplica

/// What a replica node (`CatalogNode`, `OrderNode`) is built from: `PygmyNode.init` makes one per node.
struct ReplicaEnvironment: Sendable {
    let spec: NodeSpec
    let topology: Topology
    let clients: PeerClients
    let durability: Durability
    /// The node's event loop, where its shell runs.
    let executor: NodeExecutor
    let logger: Logger
    /// What happens when a persist fails (the node has stopped serving by then).
    let onStorageFailure: @Sendable (any Error) -> Void
    /// The node's metrics (nil: it serves none).
    let metrics: NodeMetrics?

    /// Where the replica keeps its SQLite database.
    var dataDirectory: String { topology.resolve(spec.dataDir ?? spec.name) }
}

/// What a replica's shell persists through: its SQLite store.
protocol ReplicaStore: Sendable {
    associatedtype Mutation: Sendable & Hashable
    func persist(_ mutations: [Mutation]) throws
    func loadMembership(catalogs: [String]) throws -> MembershipAcceptor
    func persistMembership(_ acceptor: MembershipAcceptor) throws
    associatedtype Recalled: Sendable
    /// What the store holds for an id `ReplicaCore.requestIdsToRecall` named.
    func recalled(_ id: String) throws -> Recalled?
}

extension CatalogStore: ReplicaStore {}
extension OrderStore: ReplicaStore {
    func recalled(_ requestId: String) throws -> BuyOutcome? { try outcome(of: requestId) }
}

extension ReplicaEnvironment {
    /// The shell that runs the core `make` builds (given the stored membership vote), with this
    /// environment's clients, loop and logger, persisting through `store`.
    func shell<Core: ReplicaCore, Store: ReplicaStore>(
        store: Store,
        _ make: (MembershipAcceptor) -> Core
    ) throws -> ReplicaShell<Core> where Store.Mutation == Core.Mutation, Store.Recalled == Core.Recalled {
        let acceptor = try store.loadMembership(catalogs: topology.nodes(.catalog).map(\.name))
        return ReplicaShell(
            core: make(acceptor),
            clients: clients,
            executor: executor,
            logger: logger,
            persist: { try store.persist($0) },
            persistMembership: { try store.persistMembership($0) },
            lookup: { try store.recalled($0) },
            onStorageFailure: onStorageFailure,
            metrics: metrics
        )
    }
}
