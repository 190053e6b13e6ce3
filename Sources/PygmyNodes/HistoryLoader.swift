import PygmyBookstore
import Synchronization

/// For benchmarks only (`pygmy bench --only history`): writes a long history straight into the data
/// directory of a replica that is not running, through the same store classes and the same `persist`
/// code the nodes use (`OrderStore.persist`, `CatalogStore.persist`), so that what the node loads at its
/// next start is exactly what it would have stored itself.
///
/// It decides nothing: the caller must write a consistent history (the same orders at every order
/// replica, their commits and enough restocks at every catalog replica, order numbers in each
/// coordinator's residue class, see `OrderLogState.nextOrderNumber`). Each `append` is one SQLite
/// transaction; batches of about 10,000 mutations load quickly.
public final class HistoryLoader: Sendable {
    private let orders: OrderStore?
    private let catalog: CatalogStore?
    /// An order replica's log as its core would hold it (orders before the mark evicted), for the counters
    /// each batch stores (`OrderMutation.counters`).
    private let log: Mutex<OrderLogState>

    /// Opens (creating if needed) the store of a catalog or order replica in `directory`, the replica's
    /// data directory (`Topology.resolve(spec.dataDir)`). Throws for a frontend, or if the store cannot
    /// be opened (for example while the replica's process holds it).
    /// An order replica's `replicaIndex` and `replicaCount` are its place among the topology's order
    /// replicas, as the node computes them (they decide which order numbers are its own).
    public init(
        role: NodeRole,
        directory: String,
        durability: Durability = .process,
        replicaIndex: Int = 0,
        replicaCount: Int = 1
    ) throws {
        log = Mutex(OrderLogState(replicaIndex: replicaIndex, replicaCount: replicaCount))
        switch role {
        case .order:
            orders = try OrderStore(directory: directory, durability: durability)
            catalog = nil
        case .catalog:
            catalog = try CatalogStore(directory: directory, durability: durability)
            orders = nil
        case .frontend:
            throw TopologyError("a frontend keeps no history")
        }
    }

    /// Order replicas: appends `records` as delivered orders (each an `.order` then a `.delivered`
    /// mutation), in one transaction.
    public func append(orders records: [OrderRecord]) throws {
        guard let orders else { throw TopologyError("not an order replica's store") }
        let mutations = records.flatMap { [OrderMutation.order($0), .delivered(requestId: $0.requestId)] }
        let counters = log.withLock { log in
            log.apply(mutations)
            log.evict()
            return log.counters
        }
        try orders.persist(mutations + [.counters(counters)])
    }

    /// Order replicas: the catalogs will have folded every commit before `before` (call it before the
    /// first `append`), so the orders before it need not be in memory at the replica's restart.
    public func markFolded(before: Int64) {
        log.withLock { $0.advanceDigestMark(to: before) }
    }

    /// Catalog replicas: appends `restocks`, then `commits`, in one transaction.
    public func append(restocks: [Restock], commits: [CommittedBuy]) throws {
        guard let catalog else { throw TopologyError("not a catalog replica's store") }
        try catalog.persist(restocks.map(CatalogMutation.restock) + commits.map(CatalogMutation.commit))
    }

    /// Catalog replicas: folds the commits decided and the restocks stamped before `before` (`digest`:
    /// the XOR of the commits' `FoldState.commitHash`es; `restocks`: of the restocks'
    /// `Restock.digestHash`es), as a cluster that has run for a while has.
    public func fold(before: Int64, digest: UInt64, restocks: UInt64) throws {
        guard let catalog else { throw TopologyError("not a catalog replica's store") }
        try catalog.persist([.fold(before: before, digest: digest, restocks: restocks)])
    }

    /// Closes the store, so that the replica's process can open it.
    public func close() {
        orders?.close()
        catalog?.close()
    }
}
