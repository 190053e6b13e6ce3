import PygmyBookstore
import PygmyRPC

/// The answer of `catalog.inspect` (PROTOCOL.md §6): one item as one catalog replica holds it, for an
/// operator. Unlike a `Book`, `stock` is not clamped at 0: a replica that applied more committed buys
/// than it has copies (a restock not yet merged, a resync under way) shows a negative count.
public struct ReplicaItem: Codable, Sendable, Hashable {
    public var item: ItemID
    public var title: String
    public var topic: String
    /// Copies on hand at this replica: seed + restocks − committed buys, negative included.
    public var stock: Int
    /// Copies held by buys in progress at this replica.
    public var held: Int
    public var cost: Int
    /// The replica that answered, and its state (`ready`, `joining`).
    public var node: String
    public var state: String

    public init(
        item: ItemID,
        title: String,
        topic: String,
        stock: Int,
        held: Int,
        cost: Int,
        node: String,
        state: String
    ) {
        self.item = item
        self.title = title
        self.topic = topic
        self.stock = stock
        self.held = held
        self.cost = cost
        self.node = node
        self.state = state
    }
}

extension Catalog {
    /// Admin: one item as this replica holds it, raw (`ReplicaItem`); read-only, served without a read
    /// lease and in any state, since it reports the replica's own state rather than the store's.
    public enum Inspect: RPCMethod {
        public typealias Request = LookupRequest
        public typealias Response = ReplicaItem
        public static let name = "catalog.inspect"
    }
}

extension CatalogNode {
    /// `catalog.inspect`: the item as this replica's state has it. Throws 1002 for an unknown item.
    func inspect(_ item: ItemID) async throws -> ReplicaItem {
        let name = spec.name
        let found = await shell.inspect { core, _ -> ReplicaItem? in
            guard let book = try? core.state.lookup(item) else { return nil }
            return ReplicaItem(
                item: item,
                title: book.title,
                topic: book.topic,
                stock: core.state.stockOnHand(item),
                held: core.state.heldCopies(item),
                cost: book.cost,
                node: name,
                state: core.phase.rawValue
            )
        }
        guard let found else { throw BookstoreError(.unknownItem, "no book with item number \(item) at \(name)") }
        return found
    }
}
