import PygmyBookstore

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

    /// Opens (creating if needed) the store of a catalog or order replica in `directory`, the replica's
    /// data directory (`Topology.resolve(spec.dataDir)`). Throws for a frontend, or if the store cannot
    /// be opened (for example while the replica's process holds it).
    public init(role: NodeRole, directory: String, durability: Durability = .process) throws {
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
        try orders.persist(records.flatMap { [OrderMutation.order($0), .delivered(requestId: $0.requestId)] })
    }

    /// Catalog replicas: appends `restocks`, then `commits`, in one transaction.
    public func append(restocks: [Restock], commits: [CommittedBuy]) throws {
        guard let catalog else { throw TopologyError("not a catalog replica's store") }
        try catalog.persist(restocks.map(CatalogMutation.restock) + commits.map(CatalogMutation.commit))
    }

    /// Catalog replicas: folds the commits decided before `before` (`digest`: the XOR of their
    /// `FoldState.commitHash`es), as a cluster that has run for a while has.
    public func fold(before: Int64, digest: UInt64) throws {
        guard let catalog else { throw TopologyError("not a catalog replica's store") }
        try catalog.persist([.fold(before: before, digest: digest)])
    }

    /// Closes the store, so that the replica's process can open it.
    public func close() {
        orders?.close()
        catalog?.close()
    }
}
